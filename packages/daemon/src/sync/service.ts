// Live sync for the daemon: StartSync / StopSync / GetSync, `apply --sync`, and Run.sync. Which
// runs have sync on is in SQLite (sync/store.ts); the run controller's `run` events say when a run's
// job is up (a session starts, with a reconcile), when it is not (a retry: the session pauses, and
// the next attempt's job gets one of its own), and when the run has ended (sync turns off). A
// restarted daemon resumes every sync that was on. Sync events go to attached CLIs as notices.
import type { PullSyncResponse, Run, SyncStatus } from '@dstack/core/gen/daemon';
import { isFinished } from '@dstack/core/runs/status';
import type { AgentManager } from '../agent/manager';
import type { HashCache } from '../code/hash-cache';
import type { UploadProgress } from '../code/upload';
import { NotFoundError, PreconditionError } from '@dstack/core/grpc';
import type { Logger } from '../logger';
import type { Db } from '../state/db';
import type { InstancesStore } from '../state/instances-store';
import type { RunRow, RunsStore } from '../state/runs-store';
import type { BatcherOptions } from './batcher';
import { batchNotice, conflictNotice, sendingNotice, startNotice } from './notices';
import { SyncSession, type BatchReport } from './session';
import { canMove, type SyncState } from './state';
import { SyncStore } from './store';
import { pullChanges } from './pull';

/** What the sync needs of the run controller: its events, views, and the run's log. */
export interface RunEvents {
  on(event: 'run', listener: (runId: string, run: Run) => void): unknown;
  emit(event: 'run' | 'notice' | 'progress', runId: string, payload: unknown): boolean;
  view(row: RunRow): Run;
  note(row: RunRow, message: string): void;
}

export interface SyncServiceDeps {
  db: Db;
  runs: RunsStore;
  instances: InstancesStore;
  agents: AgentManager;
  events: RunEvents;
  hashCache: HashCache;
  repoSizeLimit: number;
  log: Logger;
  batcher?: Partial<BatcherOptions>;
}

interface Live {
  state: SyncState;
  error: string;
  session?: SyncSession;
  jobId?: string;
  remoteDir: string;
  progressAt?: number;
}

/** Bytes a batch must send before the attach stream shows a progress bar for it. */
const PROGRESS_BYTES = 1 << 20;

export class SyncService {
  readonly store: SyncStore;
  private live = new Map<string, Live>();
  private closed = false;
  /** Syncs that were on when this daemon started: their first session says it resumed. */
  private readonly resuming: Set<string>;

  constructor(private readonly d: SyncServiceDeps) {
    this.store = new SyncStore(d.db);
    this.resuming = new Set(this.store.enabled().map((s) => s.runId));
    d.events.on('run', (runId, run) => this.onRun(runId, run));
  }

  // ---- the API ------------------------------------------------------------------------------

  /** Run.sync: undefined for a run that never had sync on. */
  status(runId: string): SyncStatus | undefined {
    const row = this.store.get(runId);
    if (!row) return undefined;
    const run = this.d.runs.get(runId);
    const live = this.live.get(runId);
    return {
      runName: run?.name ?? '',
      state: row.enabled ? (live?.state ?? 'starting') : 'off',
      pending: live?.session?.pending ?? 0,
      lastSyncedMs: row.lastSyncedMs,
      filesSynced: row.filesSynced,
      conflicts: this.store.conflicts(runId).map((c) => ({ path: c.path, keptAs: c.keptAs, timeMs: c.timeMs })),
      error: row.enabled ? (live?.error ?? '') : row.stopReason,
      repoDir: row.repoDir,
      batches: row.batches,
      roundTrips: row.roundTrips,
      remoteDir: live?.remoteDir ?? '',
      lastBatchFiles: row.lastBatchFiles,
    };
  }

  private offStatus(name: string): SyncStatus {
    return {
      runName: name,
      state: 'off',
      pending: 0,
      lastSyncedMs: 0,
      filesSynced: 0,
      conflicts: [],
      error: '',
      repoDir: '',
      batches: 0,
      roundTrips: 0,
      remoteDir: '',
      lastBatchFiles: 0,
    };
  }

  private byName(name: string): RunRow {
    const row = this.d.runs.byName(name);
    if (!row) throw new NotFoundError(`no run named ${JSON.stringify(name)}: see \`dstack ps -a\``);
    return row;
  }

  /** StartSync and `apply --sync`: on for the run (it starts once the run is up); idempotent. */
  start(name: string): SyncStatus {
    const row = this.byName(name);
    if (row.status === 'stopped')
      throw new PreconditionError(
        `run ${name} is stopped (its container kept): \`dstack start ${name}\` first to sync into it, or \`dstack sync ${name} --pull\` to bring its edits home`,
      );
    if (isFinished(row.status)) throw new PreconditionError(`run ${name} has ended (${row.status}): there is nothing to sync to`);
    if (row.noRepo || !row.repoDir) throw new PreconditionError(`run ${name} was applied with --no-repo: there is no repo to sync`);
    const before = this.store.get(row.id);
    if (!before?.enabled) {
      this.store.enable(row.id, row.repoDir);
      this.setState(row.id, 'starting');
      this.d.events.note(row, `Sync on: local changes in ${row.repoDir} go to the run once it is up`);
    }
    this.onRun(row.id, this.d.events.view(row));
    return this.status(row.id)!;
  }

  /** StopSync: off for the run; the instance keeps what it has. */
  async stop(name: string): Promise<SyncStatus> {
    const row = this.byName(name);
    await this.turnOff(row, 'stopped by the user');
    return this.status(row.id) ?? this.offStatus(name);
  }

  get(name: string): SyncStatus {
    const row = this.byName(name);
    return this.status(row.id) ?? this.offStatus(name);
  }

  /**
   * PullSync: the instance's edits under /workflow come home (pull.ts), for a run whose job has its
   * code (running) or one stopped with its container kept.
   */
  async pull(name: string): Promise<PullSyncResponse> {
    const row = this.byName(name);
    if (row.noRepo || !row.repoDir) throw new PreconditionError(`run ${name} was applied with --no-repo: there is no repo to pull into`);
    if (row.status !== 'running' && row.status !== 'stopped')
      throw new PreconditionError(
        `run ${name} is ${row.status}: only a running run, or one stopped with its container kept, has files to pull`,
      );
    const inst = this.d.instances.get(row.instanceKey);
    if (!inst || !row.jobId) throw new PreconditionError(`run ${name} has no instance to pull from`);
    const handle = await this.d.agents.connect(row.instanceKey, inst.record);
    const res = await pullChanges(handle.rpc, row.jobId, row.repoDir);
    const parts = [
      `${res.pulled.length} pulled`,
      `${res.conflicts.length} kept aside as *.remote-conflict`,
      `${res.skipped.length} skipped`,
    ];
    this.d.events.note(row, `Pulled from the instance into ${row.repoDir}: ${parts.join(', ')}`);
    for (const c of res.conflicts)
      this.d.events.note(row, `Pull conflict: ${c.path} changed here too; the instance's version is ${c.keptAs}`);
    return res;
  }

  /**
   * After the daemon (re)starts and has reconciled its runs: every sync that was on comes back, with
   * a reconcile (runs already reported up by the controller have theirs by now).
   */
  resume(): void {
    for (const s of this.store.enabled()) {
      const row = this.d.runs.get(s.runId);
      if (row) this.onRun(row.id, this.d.events.view(row));
    }
  }

  /** Daemon shutdown: watchers closed; the syncs stay on for the next daemon. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.live.values()].map((l) => l.session?.close()));
  }

  // ---- runs coming and going ------------------------------------------------------------------

  private liveOf(runId: string): Live {
    let l = this.live.get(runId);
    if (!l) {
      l = { state: 'starting', error: '', remoteDir: '' };
      this.live.set(runId, l);
    }
    return l;
  }

  private onRun(runId: string, run: Run): void {
    if (this.closed) return;
    const s = this.store.get(runId);
    if (!s?.enabled) return;
    const row = this.d.runs.get(runId);
    if (!row) return;
    if (isFinished(run.status)) {
      void this.turnOff(row, `the run ${run.status}`);
      return;
    }
    const job = run.job;
    if (run.status === 'running' && job?.jobId && job.workingDir) this.ensureSession(row, job.jobId, job.workingDir);
    else void this.pause(row);
  }

  private ensureSession(row: RunRow, jobId: string, remoteDir: string): void {
    const live = this.liveOf(row.id);
    if (live.session && live.jobId === jobId) return;
    const old = live.session;
    const repoDir = this.store.get(row.id)!.repoDir;
    const record = this.d.instances.get(row.instanceKey)?.record;
    if (!record) return;
    live.jobId = jobId;
    live.remoteDir = remoteDir;
    const session = new SyncSession({
      runName: row.name,
      root: repoDir,
      jobId,
      agent: async () => (await this.d.agents.connect(row.instanceKey, record)).rpc,
      hashCache: this.d.hashCache,
      repoSizeLimit: this.d.repoSizeLimit,
      log: this.d.log,
      batcher: this.d.batcher,
      onState: (state, error) => {
        if (live.session === session) this.setState(row.id, state, error);
      },
      onBatch: (b) => {
        if (live.session === session) this.onBatch(row, b);
      },
      onSending: (s) => {
        const line = sendingNotice(s);
        if (line && live.session === session) this.d.events.emit('notice', row.id, line);
      },
      onProgress: (p) => this.onProgress(row.id, p),
    });
    live.session = session;
    const resumed = this.resuming.delete(row.id);
    this.d.log.info(`sync ${row.name}: session for job ${jobId} (${repoDir} → ${remoteDir})`);
    void (async () => {
      await old?.close();
      if (live.session !== session || session.isClosed) return;
      await session.start();
      // Said once the watcher is up: a save made after this line is seen.
      if (live.session === session) this.d.events.note(row, startNotice(repoDir, row.name, remoteDir, resumed));
    })();
  }

  /** The run is not up (a retry waits, or it is still starting): no session until it is. */
  private async pause(row: RunRow): Promise<void> {
    const live = this.liveOf(row.id);
    const session = live.session;
    live.session = undefined;
    live.jobId = undefined;
    this.setState(row.id, 'starting');
    await session?.close();
  }

  private async turnOff(row: RunRow, reason: string): Promise<void> {
    const was = this.store.get(row.id);
    const live = this.live.get(row.id);
    this.live.delete(row.id);
    const session = live?.session;
    // A batch still on its way reports nothing once the session is not the run's any more.
    if (live) live.session = undefined;
    if (!was?.enabled) {
      await session?.close();
      return;
    }
    this.store.disable(row.id, reason);
    await session?.close();
    this.d.log.info(`sync ${row.name}: off (${reason})`);
    this.d.events.note(row, `Sync stopped (${reason}); the instance keeps what it has`);
    this.changed(row.id);
  }

  // ---- what sessions report -------------------------------------------------------------------

  private setState(runId: string, to: SyncState, error = ''): void {
    const live = this.liveOf(runId);
    if (!canMove(live.state, to)) {
      this.d.log.warn(`sync: ${live.state} → ${to} is not a move of the sync table; ignored`);
      return;
    }
    if (live.state === to && live.error === error) return;
    live.state = to;
    live.error = error;
    const row = this.d.runs.get(runId);
    if (to === 'error' && row) this.d.events.emit('notice', runId, `Sync error (retrying): ${error}`);
    this.changed(runId);
  }

  private onBatch(row: RunRow, b: BatchReport): void {
    this.store.recordBatch(row.id, { files: b.written + b.removed, roundTrips: b.roundTrips, conflicts: b.conflicts });
    const line = batchNotice(b);
    if (line) this.d.events.emit('notice', row.id, line);
    for (const c of b.conflicts) this.d.events.note(row, conflictNotice(c));
    this.changed(row.id);
  }

  private onProgress(runId: string, p: UploadProgress): void {
    if (p.total < PROGRESS_BYTES) return;
    const live = this.liveOf(runId);
    const now = Date.now();
    if (p.current < p.total && live.progressAt && now - live.progressAt < 200) return;
    live.progressAt = now;
    this.d.events.emit('progress', runId, { kind: 'sync', current: p.current, total: p.total, message: p.message });
  }

  /** Attached CLIs get the run again, with its sync status. */
  private changed(runId: string): void {
    const row = this.d.runs.get(runId);
    if (row) this.d.events.emit('run', runId, this.d.events.view(row));
  }
}
