// Runs in SQLite. A status change goes through transition(): it checks the move against core's
// table of transitions and the row's current status, and commits the row with a transition record
// in one transaction, before the caller acts on it. The configuration is stored as JSON and read
// back typed by readStoredConfiguration, the one place a stored configuration is parsed.
import { parseNormalizedConfiguration, type DevEnvironmentConfiguration } from '@dstack/core/config/index';
import { canTransition, type RunStatus } from '@dstack/core/runs/status';
import type { Db } from './db';

export interface RunRow {
  id: string;
  name: string;
  status: RunStatus;
  terminationReason: string;
  statusMessage: string;
  submittedMs: number;
  finishedMs: number;
  /** Secrets masked. Its inactivity_duration changes in place (the one field that does). */
  configuration: DevEnvironmentConfiguration;
  /** Sealed (SecretBox) JSON of RunSecrets. */
  secrets: Buffer | null;
  configurationPath: string;
  repoDir: string;
  noRepo: boolean;
  repoId: string;
  ideVersion: string;
  attempt: number;
  jobId: string;
  instanceKey: string;
  backend: string;
  region: string;
  price: number;
  resourcesJson: string;
  retryAtMs: number;
  runningMs: number;
  runningSinceMs: number;
  /** The last JobStatus the agent reported (JSON). */
  jobJson: string;
  sshAlias: string;
  /** The blocks of a fleet host split into blocks (`blocks`) this attempt holds, "0,1/4" (of 4); '': the whole instance. */
  gpuBlocks: string;
  /**
   * Stop and resume with state (runs/kept.ts `KeptInfo`, JSON): set when a stop that keeps the
   * container begins, filled in once it is kept; '' when nothing is (to be) kept.
   */
  keptJson: string;
}

const COLUMNS: Record<keyof RunRow, string> = {
  id: 'id',
  name: 'name',
  status: 'status',
  terminationReason: 'termination_reason',
  statusMessage: 'status_message',
  submittedMs: 'submitted_ms',
  finishedMs: 'finished_ms',
  configuration: 'configuration_json',
  secrets: 'secrets',
  configurationPath: 'configuration_path',
  repoDir: 'repo_dir',
  noRepo: 'no_repo',
  repoId: 'repo_id',
  ideVersion: 'ide_version',
  attempt: 'attempt',
  jobId: 'job_id',
  instanceKey: 'instance_key',
  backend: 'backend',
  region: 'region',
  price: 'price',
  resourcesJson: 'resources_json',
  retryAtMs: 'retry_at_ms',
  runningMs: 'running_ms',
  runningSinceMs: 'running_since_ms',
  jobJson: 'job_json',
  sshAlias: 'ssh_alias',
  gpuBlocks: 'gpu_blocks',
  keptJson: 'kept_json',
};

const FINISHED_SQL = `('terminated', 'failed', 'done', 'stopped')`;

/**
 * A stored configuration (configuration_json of runs), typed: checked against core's normalized
 * schema, so a row written by another version is refused here rather than misread downstream (a
 * change of the stored shape comes with a migration in db.ts).
 */
export function readStoredConfiguration(json: string, what: string): DevEnvironmentConfiguration {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (err) {
    throw new Error(`state.db: ${what}: the stored configuration is not JSON (${(err as Error).message})`);
  }
  const res = parseNormalizedConfiguration(value);
  if (!res.ok) throw new Error(`state.db: ${what}: the stored configuration does not fit this version: ${res.message}`);
  if (res.config.type !== 'dev-environment') throw new Error(`state.db: ${what}: the stored configuration is a ${res.config.type}`);
  return res.config;
}

function fromDb(r: Record<string, unknown>): RunRow {
  const out: Record<string, unknown> = {};
  for (const [k, col] of Object.entries(COLUMNS)) out[k] = r[col];
  out.noRepo = Boolean(r.no_repo);
  out.configuration = readStoredConfiguration(r.configuration_json as string, `run ${String(r.name)}`);
  return out as unknown as RunRow;
}

function toDb(patch: Partial<RunRow>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(patch)) {
    const col = COLUMNS[k as keyof RunRow];
    if (!col) throw new Error(`unknown run field ${k}`);
    out[col] = typeof v === 'boolean' ? (v ? 1 : 0) : k === 'configuration' ? JSON.stringify(v) : v;
  }
  return out;
}

export class TransitionError extends Error {
  override name = 'TransitionError';
}

export class RunsStore {
  constructor(private readonly db: Db) {}

  insert(row: RunRow): void {
    const cols = toDb(row);
    const names = Object.keys(cols);
    this.db.prepare(`INSERT INTO runs (${names.join(', ')}) VALUES (${names.map((n) => `@${n}`).join(', ')})`).run(cols);
    this.db
      .prepare(`INSERT INTO run_transitions (run_id, time_ms, from_status, to_status, reason, message) VALUES (?, ?, '', ?, '', ?)`)
      .run(row.id, row.submittedMs, row.status, row.statusMessage);
  }

  get(id: string): RunRow | undefined {
    const r = this.db.prepare('SELECT * FROM runs WHERE id = ?').get(id) as Record<string, unknown> | undefined;
    return r ? fromDb(r) : undefined;
  }

  activeByName(name: string): RunRow | undefined {
    const r = this.db.prepare(`SELECT * FROM runs WHERE name = ? AND status NOT IN ${FINISHED_SQL}`).get(name) as
      | Record<string, unknown>
      | undefined;
    return r ? fromDb(r) : undefined;
  }

  /** The active run of that name, else the one stopped with its state, else its latest finished one. */
  byName(name: string): RunRow | undefined {
    return (
      this.activeByName(name) ??
      this.stoppedByName(name) ??
      (() => {
        const r = this.db.prepare('SELECT * FROM runs WHERE name = ? ORDER BY submitted_ms DESC LIMIT 1').get(name) as
          | Record<string, unknown>
          | undefined;
        return r ? fromDb(r) : undefined;
      })()
    );
  }

  list({ all = false } = {}): RunRow[] {
    const sql = all
      ? 'SELECT * FROM runs ORDER BY submitted_ms DESC'
      : `SELECT * FROM runs WHERE status NOT IN ${FINISHED_SQL} ORDER BY submitted_ms DESC`;
    return (this.db.prepare(sql).all() as Record<string, unknown>[]).map(fromDb);
  }

  unfinished(): RunRow[] {
    return this.list({ all: false });
  }

  /** Runs stopped with their state kept (status `stopped`): they hold a container, not a job. */
  stopped(): RunRow[] {
    return (
      this.db.prepare(`SELECT * FROM runs WHERE status = 'stopped' ORDER BY submitted_ms DESC`).all() as Record<string, unknown>[]
    ).map(fromDb);
  }

  /** The run of that name stopped with its state kept, if any (at most one: runs_one_active_name). */
  stoppedByName(name: string): RunRow | undefined {
    const r = this.db.prepare(`SELECT * FROM runs WHERE name = ? AND status = 'stopped'`).get(name) as Record<string, unknown> | undefined;
    return r ? fromDb(r) : undefined;
  }

  /** Fields that are not the status (job progress, activity, ids). */
  update(id: string, patch: Partial<RunRow>): RunRow {
    if ('status' in patch) throw new Error('status changes go through transition()');
    const cols = toDb(patch);
    const names = Object.keys(cols);
    if (names.length) {
      this.db.prepare(`UPDATE runs SET ${names.map((n) => `${n} = @${n}`).join(', ')} WHERE id = @__id`).run({ ...cols, __id: id });
    }
    const row = this.get(id);
    if (!row) throw new Error(`run ${id} is gone`);
    return row;
  }

  /**
   * Moves the run from its current status to `to` (allowed by core's table), with `patch`, and
   * records the move. Throws TransitionError when the row is not where the caller thinks it is.
   */
  transition(id: string, to: RunStatus, patch: Partial<RunRow> = {}, nowMs = Date.now()): RunRow {
    return this.db.transaction(() => {
      const cur = this.get(id);
      if (!cur) throw new TransitionError(`run ${id} does not exist`);
      if (!canTransition(cur.status, to)) {
        throw new TransitionError(`run ${cur.name}: ${cur.status} → ${to} is not an allowed transition`);
      }
      const cols = toDb({ ...patch, status: to });
      const names = Object.keys(cols);
      this.db
        .prepare(`UPDATE runs SET ${names.map((n) => `${n} = @${n}`).join(', ')} WHERE id = @__id AND status = @__from`)
        .run({ ...cols, __id: id, __from: cur.status });
      this.db
        .prepare('INSERT INTO run_transitions (run_id, time_ms, from_status, to_status, reason, message) VALUES (?, ?, ?, ?, ?, ?)')
        .run(id, nowMs, cur.status, to, patch.terminationReason ?? cur.terminationReason, patch.statusMessage ?? '');
      return this.get(id)!;
    })();
  }

  transitions(id: string): { from: string; to: string; reason: string; message: string; timeMs: number }[] {
    return (
      this.db
        .prepare('SELECT from_status, to_status, reason, message, time_ms FROM run_transitions WHERE run_id = ? ORDER BY seq')
        .all(id) as { from_status: string; to_status: string; reason: string; message: string; time_ms: number }[]
    ).map((r) => ({ from: r.from_status, to: r.to_status, reason: r.reason, message: r.message, timeMs: r.time_ms }));
  }

  delete(id: string): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM run_transitions WHERE run_id = ?').run(id);
      this.db.prepare('DELETE FROM runs WHERE id = ?').run(id);
    })();
  }

  finishedByName(name: string): RunRow[] {
    return (this.db.prepare(`SELECT * FROM runs WHERE name = ? AND status IN ${FINISHED_SQL}`).all(name) as Record<string, unknown>[]).map(
      fromDb,
    );
  }
}
