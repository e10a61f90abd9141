// Which offers can take a run's network volumes (`volumes: - name: X` / `X:/path`), and what the
// instance and the job are then given. A volume lives at one backend and region: an offer elsewhere
// is left out with the reason, a backend without volumes (this machine, fleet hosts) is named, and
// an offer whose provider picks the data center (RunPod without `regions:`) is pinned to the
// volume's. `name: [a, b]` takes the first of them that the offer can have, as in dstack.
//
// The volumes are looked up in the catalog each caller is handed (the daemon's VolumesStore, state.db):
// the planner in its options, ApplyRun and provisioning from their deps, the job spec in its input.
// Without one, every network volume reads as unknown (so the run is refused, never sent without it).
import type { InstanceMount, VolumeMount } from '@dstack/core/config/index';
import { networkVolumes } from '@dstack/core/config/volumes';
import type { Mount } from '@dstack/core/gen/agent';
import type { Offer } from '@dstack/core/gen/daemon';
import type { Backend } from '@dstack/backends/backend';
import type { VolumeAttachment } from '@dstack/backends/volumes';
import type { VolumeRow } from './store';

type AnyMount = VolumeMount | InstanceMount;

/** The daemon's volumes by name: its VolumesStore, or a test's. */
export interface VolumeCatalog {
  get(name: string): VolumeRow | undefined;
}

const names = (m: VolumeMount) => (m.name.length === 1 ? `volume ${m.name[0]}` : `volumes ${m.name.join(', ')}`);
const where = (r: VolumeRow) => `${r.backend}${r.region ? ` (${r.region})` : ''}`;

/** The mount's volumes that can be used (active), in the order written. */
function candidates(catalog: VolumeCatalog | undefined, m: VolumeMount): VolumeRow[] {
  return m.name.map((n) => catalog?.get(n)).filter((r): r is VolumeRow => r?.status === 'active');
}

/**
 * Why the run's network volumes can go nowhere, whatever the backends: one that does not exist (or
 * failed). undefined when each mount has a volume.
 */
export function volumeRefusal(catalog: VolumeCatalog | undefined, volumes: readonly AnyMount[]): string | undefined {
  const missing = networkVolumes(volumes).filter((m) => !candidates(catalog, m).length);
  if (!missing.length) return undefined;
  const what = missing.map((m) => {
    const failed = m.name.map((n) => catalog?.get(n)).find((r) => r && r.status !== 'active');
    return failed ? `${names(m)} at ${m.path}: ${failed.name} is ${failed.status}` : `${names(m)} at ${m.path}: no such volume`;
  });
  return `volumes: ${what.join('; ')}: make one with \`dstack apply -f\` of a \`type: volume\` file (see \`dstack volume list\`)`;
}

/** Why no offer of this backend can take the run's network volumes, or undefined. */
export function backendVolumeRefusal(catalog: VolumeCatalog | undefined, b: Backend, volumes: readonly AnyMount[]): string | undefined {
  const net = networkVolumes(volumes);
  if (!net.length) return undefined;
  const at = net.map((m) => `${names(m)} at ${candidates(catalog, m).map(where).join(', ') || 'nowhere'}`).join('; ');
  if (!b.volumes) return `${b.type}: has no network volumes (${at})`;
  const away = net.filter((m) => !candidates(catalog, m).some((r) => r.backend === b.type));
  if (away.length) return `${b.type}: ${away.map((m) => `${names(m)} is not on ${b.type}`).join('; ')} (${at})`;
  const max = b.volumes.maxPerInstance;
  if (max !== undefined && net.length > max)
    return `${b.type}: an instance takes ${max} network volume${max === 1 ? '' : 's'}, the run names ${net.length}`;
  return undefined;
}

/** The volume each mount gets on this offer, in mount order; a reason when one cannot be had there. */
function pick(
  catalog: VolumeCatalog | undefined,
  o: Offer,
  volumes: readonly AnyMount[],
): { rows: { row: VolumeRow; path: string }[]; region: string } | { reason: string } {
  const rows: { row: VolumeRow; path: string }[] = [];
  let region = o.region;
  for (const m of networkVolumes(volumes)) {
    const all = candidates(catalog, m);
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
export function offerWithVolumes(
  catalog: VolumeCatalog | undefined,
  o: Offer,
  volumes: readonly AnyMount[],
): { offer: Offer } | { reason: string } {
  if (!networkVolumes(volumes).length) return { offer: o };
  if (o.instanceName) return { reason: 'an existing instance: network volumes attach when an instance is made' };
  const p = pick(catalog, o, volumes);
  if ('reason' in p) return p;
  return { offer: p.region === o.region ? o : { ...o, region: p.region } };
}

/** What the chosen offer's instance is made with. */
export function volumeAttachments(catalog: VolumeCatalog | undefined, volumes: readonly AnyMount[], o: Offer): VolumeAttachment[] {
  if (!networkVolumes(volumes).length) return [];
  const p = pick(catalog, o, volumes);
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
export function hostVolumeMounts(
  catalog: VolumeCatalog | undefined,
  volumes: readonly AnyMount[],
  o: Pick<Offer, 'backend' | 'region'>,
): Mount[] {
  if (!networkVolumes(volumes).length) return [];
  const p = pick(catalog, { ...(o as Offer), instanceName: '' }, volumes);
  if ('reason' in p) throw new Error(`volumes: ${p.reason}`);
  return p.rows
    .filter(({ row }) => row.hostPath)
    .map(({ row, path }) => ({ source: row.hostPath, target: path, readOnly: false, optional: false }));
}

/** The active runs (by name) whose configuration names the volume. */
export function attachedRuns(volume: string, runs: { name: string; volumes: readonly AnyMount[] }[]): string[] {
  return runs.filter((r) => networkVolumes(r.volumes).some((m) => m.name.includes(volume))).map((r) => r.name);
}
