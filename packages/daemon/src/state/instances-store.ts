// Instances in SQLite: the backend's InstanceRecord (what reaching it again needs) and its status.
import type { InstanceRecord } from '@dstack/backends/backend';
import type { Db } from './db';

/** pending, provisioning, idle, busy, unreachable, terminating, terminated, failed (daemon.proto). */
export type InstanceStatus = 'pending' | 'provisioning' | 'idle' | 'busy' | 'unreachable' | 'terminating' | 'terminated' | 'failed';

export interface InstanceRow {
  key: string;
  record: InstanceRecord;
  status: InstanceStatus;
  statusMessage: string;
  createdMs: number;
  agentVersion: string;
  agentSha256: string;
  agentInstanceId: string;
}

export function instanceKey(backend: string, instanceId: string): string {
  return `${backend}/${instanceId}`;
}

interface Raw {
  key: string;
  record_json: string;
  status: InstanceStatus;
  status_message: string;
  created_ms: number;
  agent_version: string;
  agent_sha256: string;
  agent_instance_id: string;
}

function fromDb(r: Raw): InstanceRow {
  return {
    key: r.key,
    record: JSON.parse(r.record_json) as InstanceRecord,
    status: r.status,
    statusMessage: r.status_message,
    createdMs: r.created_ms,
    agentVersion: r.agent_version,
    agentSha256: r.agent_sha256,
    agentInstanceId: r.agent_instance_id,
  };
}

export class InstancesStore {
  constructor(private readonly db: Db) {}

  /** Inserts or replaces the record, keeping created_ms of an existing row. */
  upsert(record: InstanceRecord, status: InstanceStatus, nowMs = Date.now()): InstanceRow {
    const key = instanceKey(record.backend, record.instanceId);
    this.db
      .prepare(
        `INSERT INTO instances (key, backend, instance_id, name, status, record_json, created_ms)
         VALUES (@key, @backend, @instanceId, @name, @status, @record, @now)
         ON CONFLICT(key) DO UPDATE SET name = excluded.name, status = excluded.status, record_json = excluded.record_json`,
      )
      .run({
        key,
        backend: record.backend,
        instanceId: record.instanceId,
        name: record.name,
        status,
        record: JSON.stringify(record),
        now: nowMs,
      });
    return this.get(key)!;
  }

  get(key: string): InstanceRow | undefined {
    const r = this.db.prepare('SELECT * FROM instances WHERE key = ?').get(key) as Raw | undefined;
    return r ? fromDb(r) : undefined;
  }

  list(): InstanceRow[] {
    return (this.db.prepare('SELECT * FROM instances ORDER BY created_ms').all() as Raw[]).map(fromDb);
  }

  setStatus(key: string, status: InstanceStatus, message = ''): void {
    this.db.prepare('UPDATE instances SET status = ?, status_message = ? WHERE key = ?').run(status, message, key);
  }

  setAgent(key: string, agent: { version: string; sha256: string; instanceId: string }): void {
    this.db
      .prepare('UPDATE instances SET agent_version = ?, agent_sha256 = ?, agent_instance_id = ? WHERE key = ?')
      .run(agent.version, agent.sha256, agent.instanceId, key);
  }

  delete(key: string): void {
    this.db.prepare('DELETE FROM instances WHERE key = ?').run(key);
  }
}
