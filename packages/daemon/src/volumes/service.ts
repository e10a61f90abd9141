// `type: volume` through ApplyVolume, `dstack volume list` and `delete`: a network volume is made at
// its backend (or an existing one registered by volume_id) and kept in state.db; a run that names it
// gets it where an offer can attach it (attach.ts). Delete is refused while an active run names it;
// a registered volume is only forgotten, as dstack leaves volumes it did not make.
import type { Volume as VolumeView } from '@dstack/core/gen/daemon';
import type { ConfigurationSource } from '@dstack/core/gen/daemon';
import type { DevEnvironmentConfiguration } from '@dstack/core/config/index';
import { parseVolumeConfiguration, type VolumeConfiguration } from '@dstack/core/config/volume';
import { formatError } from '@dstack/core/config/index';
import { CONFIGURATION_ERRORS_HEADER } from '@dstack/core/config/source';
import { BadRequestError, ConflictError, NotFoundError, PreconditionError } from '@dstack/core/grpc';
import type { Backend } from '@dstack/backends/backend';
import type { NetworkVolume } from '@dstack/backends/volumes';
import type { Logger } from '../logger';
import { attachedRuns } from './attach';
import type { VolumeRow, VolumesStore } from './store';

export interface VolumeServiceDeps {
  store: VolumesStore;
  /** The configured backends now (they change with `dstack backend add`). */
  backends: () => Backend[];
  /** Active runs (not finished), with their configurations. */
  activeRuns: () => { name: string; configuration: Pick<DevEnvironmentConfiguration, 'volumes'> }[];
  log: Logger;
}

export class VolumeService {
  constructor(private readonly d: VolumeServiceDeps) {}

  private attached(name: string): string[] {
    return attachedRuns(
      name,
      this.d.activeRuns().map((r) => ({ name: r.name, volumes: r.configuration.volumes ?? [] })),
    );
  }

  view(r: VolumeRow): VolumeView {
    return {
      name: r.name,
      backend: r.backend,
      region: r.region,
      status: r.status,
      statusMessage: r.statusMessage,
      createdMs: r.createdMs,
      sizeGb: r.sizeGb,
      volumeId: r.volumeId,
      external: r.external,
      attachedTo: this.attached(r.name),
    };
  }

  list(): VolumeView[] {
    return this.d.store.list().map((r) => this.view(r));
  }

  private backendOf(config: VolumeConfiguration, path: string): Backend & { volumes: NonNullable<Backend['volumes']> } {
    const all = this.d.backends();
    const b = all.find((x) => x.type === config.backend);
    if (!b) {
      throw new PreconditionError(
        `${path}: backend ${config.backend} is not configured (configured: ${all.map((x) => x.type).join(', ') || 'none'}; add it with \`dstack backend add ${config.backend}\`)`,
      );
    }
    if (!b.volumes) {
      const have = all.filter((x) => x.volumes).map((x) => x.type);
      throw new PreconditionError(
        `${path}: backend ${b.type} has no network volumes${have.length ? ` (configured backends that have them: ${have.join(', ')})` : ''}`,
      );
    }
    return b as Backend & { volumes: NonNullable<Backend['volumes']> };
  }

  /** Makes (or registers) the volume; the same file applied again answers the volume as it is. */
  async apply(src: ConfigurationSource | undefined): Promise<VolumeView> {
    if (!src) throw new BadRequestError('configuration is missing: send the file as ConfigurationSource');
    const parsed = parseVolumeConfiguration(src.path, src.text);
    if (!parsed.ok) throw new BadRequestError([CONFIGURATION_ERRORS_HEADER, ...parsed.errors.map(formatError)].join('\n'));
    const c = parsed.config;
    const existing = this.d.store.get(c.name);
    if (existing) {
      const same =
        existing.backend === c.backend &&
        (!c.region || existing.region === c.region) &&
        (c.volumeId ? existing.volumeId === c.volumeId : !existing.external && existing.sizeGb === c.sizeGb);
      if (same && existing.status !== 'failed') return this.view(existing);
      throw new ConflictError(
        `volume ${c.name} exists already (${existing.backend}${existing.region ? `, ${existing.region}` : ''}, ${existing.status}): delete it first with \`dstack volume delete ${c.name}\``,
      );
    }
    const b = this.backendOf(c, src.path);
    const prefix = (b as { namePrefix?: string }).namePrefix ?? '';
    const row: VolumeRow = {
      name: c.name,
      backend: b.type,
      region: c.region,
      sizeGb: c.sizeGb,
      volumeId: c.volumeId,
      providerName: '',
      hostPath: '',
      external: !!c.volumeId,
      status: 'provisioning',
      statusMessage: '',
      createdMs: Date.now(),
    };
    // Recorded first: a volume made at the provider is never one the daemon does not know of.
    if (!this.d.store.insert(row)) throw new ConflictError(`volume ${c.name} exists already`);
    let made: NetworkVolume | null;
    try {
      if (c.volumeId) {
        made = await b.volumes.get(c.volumeId);
        if (!made) throw new PreconditionError(`${b.type} has no volume with id ${c.volumeId}`);
        if (c.region && made.region && made.region !== c.region)
          throw new PreconditionError(`${b.type} volume ${c.volumeId} is in ${made.region}, not ${c.region}`);
      } else {
        made = await b.volumes.create({ name: `${prefix}${c.name}`, region: c.region, sizeGb: c.sizeGb });
      }
    } catch (err) {
      const message = (err as Error).message;
      this.d.log.info(`volume ${c.name}: ${message}`);
      // A registration that failed leaves nothing behind; a failed create stays listed, as dstack's.
      if (c.volumeId) this.d.store.delete(c.name);
      else this.d.store.update(c.name, { status: 'failed', statusMessage: message });
      throw err instanceof PreconditionError ? err : new PreconditionError(`volume ${c.name}: ${message}`);
    }
    const done = this.d.store.update(c.name, {
      status: 'active',
      volumeId: made.id,
      providerName: made.name,
      region: made.region || c.region,
      sizeGb: made.sizeGb || c.sizeGb,
      hostPath: b.volumes.mount === 'host' && b.volumes.hostPath ? b.volumes.hostPath(made) : '',
    })!;
    this.d.log.info(`volume ${c.name}: ${c.volumeId ? 'registered' : 'made'} at ${b.type} (${done.region}) as ${made.name} (${made.id})`);
    return this.view(done);
  }

  /** Refused while an active run names it; a registered volume is only forgotten. */
  async delete(name: string): Promise<void> {
    const row = this.d.store.get(name);
    if (!row) throw new NotFoundError(`no volume named ${name} (see \`dstack volume list\`)`);
    const runs = this.attached(name);
    if (runs.length) {
      throw new PreconditionError(
        `volume ${name} is attached to run${runs.length > 1 ? 's' : ''} ${runs.join(', ')}: stop ${runs.length > 1 ? 'them' : 'it'} first (dstack stop)`,
      );
    }
    if (!row.external && row.volumeId) {
      const b = this.d.backends().find((x) => x.type === row.backend);
      if (!b?.volumes) {
        throw new PreconditionError(
          `volume ${name} is at ${row.backend}, which is not configured now: add the backend again to delete it there`,
        );
      }
      await b.volumes.delete(row.volumeId);
    }
    this.d.store.delete(name);
    this.d.log.info(`volume ${name}: ${row.external ? 'forgotten (registered: the provider keeps it)' : 'deleted'}`);
  }
}
