// Which offers can take a run's network volumes (`volumes: - name: X` / `X:/path`), and what the
// instance and the job are then given. A volume lives at one backend and region: an offer elsewhere
// is left out with the reason, a backend without volumes (this machine, fleet hosts) is named, and
// an offer whose provider picks the data center (RunPod without `regions:`) is pinned to the
// volume's. `name: [a, b]` takes the first of them that the offer can have, as in dstack.
//
// The volumes are read from the daemon's catalog (state.db), set once at start (useVolumeCatalog):
// the planner, ApplyRun, provisioning and the job spec all ask it with nothing but the configuration.
import type { InstanceMount, VolumeMount } from '@dstack/core/config/index';
import { networkVolumes } from '@dstack/core/config/volumes';
import type { Mount } from '@dstack/core/gen/agent';
import type { Offer } from '@dstack/core/gen/daemon';
import type { Backend } from '@dstack/backends/backend';
import type { VolumeAttachment } from '@dstack/backends/volumes';
import type { VolumeRow } from './store';

type AnyMount = VolumeMount | InstanceMount;

let catalog: { get(name: string): VolumeRow | undefined } | undefined;

/** The daemon's volumes (VolumesStore); until set, every network volume reads as unknown. */
export function useVolumeCatalog(c: { get(name: string): VolumeRow | undefined } | undefined): void {
  catalog = c;
}

const names = (m: VolumeMount) => (m.name.length === 1 ? `volume ${m.name[0]}` : `volumes ${m.name.join(', ')}`);
const where = (r: VolumeRow) => `${r.backend}${r.region ? ` (${r.region})` : ''}`;

/** The mount's volumes that can be used (active), in the order written. */
function candidates(m: VolumeMount): VolumeRow[] {
  return m.name.map((n) => catalog?.get(n)).filter((r): r is VolumeRow => r?.status === 'active');
}

/**
 * Why the run's network volumes can go nowhere, whatever the backends: one that does not exist (or
 * failed). undefined when each mount has a volume.
 */
export function volumeRefusal(volumes: readonly AnyMount[]): string | undefined {
  const missing = networkVolumes(volumes).filter((m) => !candidates(m).length);
  if (!missing.length) return undefined;
  const what = missing.map((m) => {
    const failed = m.name.map((n) => catalog?.get(n)).find((r) => r && r.status !== 'active');
    return failed ? `${names(m)} at ${m.path}: ${failed.name} is ${failed.status}` : `${names(m)} at ${m.path}: no such volume`;
  });
  return `volumes: ${what.join('; ')}: make one with \`dstack apply -f\` of a \`type: volume\` file (see \`dstack volume list\`)`;
}

/** Why no offer of this backend can take the run's network volumes, or undefined. */
export function backendVolumeRefusal(b: Backend, volumes: readonly AnyMount[]): string | undefined {
  const net = networkVolumes(volumes);
  if (!net.length) return undefined;
  const at = net.map((m) => `${names(m)} at ${candidates(m).map(where).join(', ') || 'nowhere'}`).join('; ');
  if (!b.volumes) return `${b.type}: has no network volumes (${at})`;
  const away = net.filter((m) => !candidates(m).some((r) => r.backend === b.type));
  if (away.length) return `${b.type}: ${away.map((m) => `${names(m)} is not on ${b.type}`).join('; ')} (${at})`;
  const max = b.volumes.maxPerInstance;
  if (max !== undefined && net.length > max)
    return `${b.type}: an instance takes ${max} network volume${max === 1 ? '' : 's'}, the run names ${net.length}`;
  return undefined;
}

/** The volume each mount gets on this offer, in mount order; a reason when one cannot be had there. */
function pick(o: Offer, volumes: readonly AnyMount[]): { rows: { row: VolumeRow; path: string }[]; region: string } | { reason: string } {
  const rows: { row: VolumeRow; path: string }[] = [];
  let region = o.region;
  for (const m of networkVolumes(volumes)) {
    const all = candidates(m);
    const row = all.find((r) => r.backend === o.backend && (!region || r.region === region));
    if (!row) {
      const at = all.map(where).join(', ');
      return { reason: region ? `${names(m)} is at ${at}, not in ${region}` : `${names(m)} is at ${at}` };
    }
    region = row.region;
    rows.push({ row, path: m.path });
  }
  return { rows, region };
}

/**
 * The offer as it can have the run's network volumes (its region pinned to theirs where the provider
 * picks), or why it cannot. Offers of existing instances cannot: volumes attach when one is made.
 */
export function offerWithVolumes(o: Offer, volumes: readonly AnyMount[]): { offer: Offer } | { reason: string } {
  if (!networkVolumes(volumes).length) return { offer: o };
  if (o.instanceName) return { reason: 'an existing instance: network volumes attach when an instance is made' };
  const p = pick(o, volumes);
  if ('reason' in p) return p;
  return { offer: p.region === o.region ? o : { ...o, region: p.region } };
}

/** What the chosen offer's instance is made with. */
export function volumeAttachments(volumes: readonly AnyMount[], o: Offer): VolumeAttachment[] {
  if (!networkVolumes(volumes).length) return [];
  const p = pick(o, volumes);
  if ('reason' in p) throw new Error(`volumes: ${p.reason}`);
  return p.rows.map(({ row, path }) => ({
    volume: { id: row.volumeId, name: row.providerName, region: row.region, sizeGb: row.sizeGb, providerState: row.status },
    path,
  }));
}

/**
 * The job's mounts for volumes that the instance has at a host path (Lambda's /lambda/nfs/NAME): the
 * agent binds them as instance volumes. Volumes the provider mounts itself (RunPod) need none.
 */
export function hostVolumeMounts(volumes: readonly AnyMount[], o: Pick<Offer, 'backend' | 'region'>): Mount[] {
  if (!networkVolumes(volumes).length) return [];
  const p = pick({ ...(o as Offer), instanceName: '' }, volumes);
  if ('reason' in p) throw new Error(`volumes: ${p.reason}`);
  return p.rows
    .filter(({ row }) => row.hostPath)
    .map(({ row, path }) => ({ source: row.hostPath, target: path, readOnly: false, optional: false }));
}

/** The active runs (by name) whose configuration names the volume. */
export function attachedRuns(volume: string, runs: { name: string; volumes: readonly AnyMount[] }[]): string[] {
  return runs.filter((r) => networkVolumes(r.volumes).some((m) => m.name.includes(volume))).map((r) => r.name);
}
