// Network volumes in state.db (migration 8): one row per name, at one backend and region, with the
// provider's id and name. `host_path` is where an instance has it when the agent binds it into the
// job's container (Lambda's /lambda/nfs/NAME); '' when the provider mounts it (RunPod).
import type { Db } from '../state/db';

export type VolumeStatus = 'submitted' | 'provisioning' | 'active' | 'failed';

export interface VolumeRow {
  name: string;
  backend: string;
  region: string;
  sizeGb: number;
  volumeId: string;
  providerName: string;
  hostPath: string;
  /** Registered by volume_id: the provider keeps it when it is deleted here. */
  external: boolean;
  status: VolumeStatus;
  statusMessage: string;
  createdMs: number;
}

interface Raw {
  name: string;
  backend: string;
  region: string;
  size_gb: number;
  volume_id: string;
  provider_name: string;
  host_path: string;
  external: number;
  status: VolumeStatus;
  status_message: string;
  created_ms: number;
}

const fromDb = (r: Raw): VolumeRow => ({
  name: r.name,
  backend: r.backend,
  region: r.region,
  sizeGb: r.size_gb,
  volumeId: r.volume_id,
  providerName: r.provider_name,
  hostPath: r.host_path,
  external: r.external === 1,
  status: r.status,
  statusMessage: r.status_message,
  createdMs: r.created_ms,
});

export class VolumesStore {
  constructor(private readonly db: Db) {}

  /** False when a volume of that name is there already. */
  insert(v: VolumeRow): boolean {
    const res = this.db
      .prepare(
        `INSERT OR IGNORE INTO volumes (name, backend, region, size_gb, volume_id, provider_name, host_path, external, status, status_message, created_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        v.name,
        v.backend,
        v.region,
        v.sizeGb,
        v.volumeId,
        v.providerName,
        v.hostPath,
        v.external ? 1 : 0,
        v.status,
        v.statusMessage,
        v.createdMs,
      );
    return res.changes > 0;
  }

  update(name: string, patch: Partial<Omit<VolumeRow, 'name' | 'createdMs'>>): VolumeRow | undefined {
    const cur = this.get(name);
    if (!cur) return undefined;
    const v = { ...cur, ...patch };
    this.db
      .prepare(
        `UPDATE volumes SET backend = ?, region = ?, size_gb = ?, volume_id = ?, provider_name = ?, host_path = ?, external = ?,
           status = ?, status_message = ? WHERE name = ?`,
      )
      .run(v.backend, v.region, v.sizeGb, v.volumeId, v.providerName, v.hostPath, v.external ? 1 : 0, v.status, v.statusMessage, name);
    return v;
  }

  get(name: string): VolumeRow | undefined {
    const r = this.db.prepare('SELECT * FROM volumes WHERE name = ?').get(name) as Raw | undefined;
    return r ? fromDb(r) : undefined;
  }

  /** By name. */
  list(): VolumeRow[] {
    return (this.db.prepare('SELECT * FROM volumes ORDER BY name').all() as Raw[]).map(fromDb);
  }

  delete(name: string): void {
    this.db.prepare('DELETE FROM volumes WHERE name = ?').run(name);
  }
}
