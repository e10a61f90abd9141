// Fleets in SQLite: name, configuration, status. A fleet's hosts are rows of `instances` (backend
// `ssh`) whose record data names the fleet's id (see backends' FleetHostData).
import type { Db } from '../state/db';

/** submitted (being applied for the first time), active, terminating, terminated, failed (daemon.proto). */
export type FleetStatus = 'submitted' | 'active' | 'terminating' | 'terminated' | 'failed';

export interface FleetRow {
  id: string;
  name: string;
  status: FleetStatus;
  statusMessage: string;
  /** The normalized configuration, as applied last. */
  configurationJson: string;
  configurationPath: string;
  createdMs: number;
  finishedMs: number;
}

interface Raw {
  id: string;
  name: string;
  status: FleetStatus;
  status_message: string;
  configuration_json: string;
  configuration_path: string;
  created_ms: number;
  finished_ms: number;
}

function fromDb(r: Raw): FleetRow {
  return {
    id: r.id,
    name: r.name,
    status: r.status,
    statusMessage: r.status_message,
    configurationJson: r.configuration_json,
    configurationPath: r.configuration_path,
    createdMs: r.created_ms,
    finishedMs: r.finished_ms,
  };
}

const ACTIVE = `status NOT IN ('terminated', 'failed')`;

export class FleetsStore {
  constructor(private readonly db: Db) {}

  /** Throws a UNIQUE error when an unfinished fleet has the name. */
  insert(row: FleetRow): void {
    this.db
      .prepare(
        `INSERT INTO fleets (id, name, status, status_message, configuration_json, configuration_path, created_ms, finished_ms)
         VALUES (@id, @name, @status, @statusMessage, @configurationJson, @configurationPath, @createdMs, @finishedMs)`,
      )
      .run(row);
  }

  get(id: string): FleetRow | undefined {
    const r = this.db.prepare('SELECT * FROM fleets WHERE id = ?').get(id) as Raw | undefined;
    return r ? fromDb(r) : undefined;
  }

  /** The unfinished fleet of that name, or else the latest finished one. */
  byName(name: string): FleetRow | undefined {
    const r = this.db.prepare(`SELECT * FROM fleets WHERE name = ? ORDER BY (${ACTIVE}) DESC, created_ms DESC LIMIT 1`).get(name) as
      | Raw
      | undefined;
    return r ? fromDb(r) : undefined;
  }

  activeByName(name: string): FleetRow | undefined {
    const r = this.db.prepare(`SELECT * FROM fleets WHERE name = ? AND ${ACTIVE}`).get(name) as Raw | undefined;
    return r ? fromDb(r) : undefined;
  }

  /** Unfinished fleets (all: finished ones too), oldest first. */
  list(all = false): FleetRow[] {
    const where = all ? '' : `WHERE ${ACTIVE}`;
    return (this.db.prepare(`SELECT * FROM fleets ${where} ORDER BY created_ms`).all() as Raw[]).map(fromDb);
  }

  update(
    id: string,
    patch: Partial<Pick<FleetRow, 'status' | 'statusMessage' | 'configurationJson' | 'configurationPath' | 'finishedMs'>>,
  ): FleetRow {
    const cols: Record<string, string> = {
      status: 'status',
      statusMessage: 'status_message',
      configurationJson: 'configuration_json',
      configurationPath: 'configuration_path',
      finishedMs: 'finished_ms',
    };
    const keys = Object.keys(patch).filter((k) => k in cols);
    if (keys.length) {
      this.db.prepare(`UPDATE fleets SET ${keys.map((k) => `${cols[k]} = @${k}`).join(', ')} WHERE id = @id`).run({ ...patch, id });
    }
    return this.get(id)!;
  }
}
