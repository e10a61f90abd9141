// Live sync in SQLite (migration 3): one row per run that has had sync on, and every conflict it
// reported. `enabled` is what a restarted daemon resumes; the counters survive it too.
import type { Db } from '../state/db';

export interface SyncRow {
  runId: string;
  enabled: boolean;
  repoDir: string;
  startedMs: number;
  stoppedMs: number;
  stopReason: string;
  lastSyncedMs: number;
  filesSynced: number;
  batches: number;
  roundTrips: number;
  lastBatchFiles: number;
}

export interface ConflictRow {
  path: string;
  keptAs: string;
  timeMs: number;
}

/** How many conflicts a status carries (the newest). */
export const CONFLICTS_SHOWN = 500;

function fromDb(r: Record<string, number | string>): SyncRow {
  return {
    runId: String(r.run_id),
    enabled: Boolean(r.enabled),
    // The column keeps its first name: state.db files on disk have it.
    repoDir: String(r.local_dir),
    startedMs: Number(r.started_ms),
    stoppedMs: Number(r.stopped_ms),
    stopReason: String(r.stop_reason),
    lastSyncedMs: Number(r.last_synced_ms),
    filesSynced: Number(r.files_synced),
    batches: Number(r.batches),
    roundTrips: Number(r.round_trips),
    lastBatchFiles: Number(r.last_batch_files),
  };
}

export class SyncStore {
  constructor(private readonly db: Db) {}

  get(runId: string): SyncRow | undefined {
    const r = this.db.prepare('SELECT * FROM syncs WHERE run_id = ?').get(runId) as Record<string, number | string> | undefined;
    return r ? fromDb(r) : undefined;
  }

  enabled(): SyncRow[] {
    return (this.db.prepare('SELECT * FROM syncs WHERE enabled = 1').all() as Record<string, number | string>[]).map(fromDb);
  }

  /** Turns sync on (again): counters and conflicts of an earlier stint are kept. */
  enable(runId: string, repoDir: string, nowMs = Date.now()): SyncRow {
    this.db
      .prepare(
        `INSERT INTO syncs (run_id, enabled, local_dir, started_ms) VALUES (?, 1, ?, ?)
         ON CONFLICT(run_id) DO UPDATE SET enabled = 1, local_dir = excluded.local_dir, started_ms = excluded.started_ms,
           stopped_ms = 0, stop_reason = ''`,
      )
      .run(runId, repoDir, nowMs);
    return this.get(runId)!;
  }

  disable(runId: string, reason: string, nowMs = Date.now()): SyncRow | undefined {
    this.db
      .prepare('UPDATE syncs SET enabled = 0, stopped_ms = ?, stop_reason = ? WHERE run_id = ? AND enabled = 1')
      .run(nowMs, reason, runId);
    return this.get(runId);
  }

  /** One batch committed on the instance: `files` changed or removed, in `roundTrips` agent calls. */
  recordBatch(
    runId: string,
    b: { files: number; roundTrips: number; conflicts: { path: string; keptAs: string }[] },
    nowMs = Date.now(),
  ): void {
    this.db.transaction(() => {
      this.db
        .prepare(
          `UPDATE syncs SET last_synced_ms = ?, files_synced = files_synced + ?, batches = batches + 1,
             round_trips = round_trips + ?, last_batch_files = ? WHERE run_id = ?`,
        )
        .run(nowMs, b.files, b.roundTrips, b.files, runId);
      const add = this.db.prepare('INSERT INTO sync_conflicts (run_id, path, kept_as, time_ms) VALUES (?, ?, ?, ?)');
      for (const c of b.conflicts) add.run(runId, c.path, c.keptAs, nowMs);
    })();
  }

  conflicts(runId: string, limit = CONFLICTS_SHOWN): ConflictRow[] {
    const rows = this.db
      .prepare('SELECT path, kept_as, time_ms FROM sync_conflicts WHERE run_id = ? ORDER BY seq DESC LIMIT ?')
      .all(runId, limit) as { path: string; kept_as: string; time_ms: number }[];
    return rows.reverse().map((r) => ({ path: r.path, keptAs: r.kept_as, timeMs: r.time_ms }));
  }
}
