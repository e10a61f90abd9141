// One run's live sync while its job is up: a watcher feeds a batcher; each batch goes to the agent
// as one delta manifest (PutManifest, PutBlobs for the missing blobs only, CommitCode). It starts
// with a reconcile: the whole local tree as a manifest with local_changes_only, so whatever changed
// locally while nobody watched (the daemon was down, the run was retried) goes, and nothing the
// instance changed on its own is touched. A failed batch stays pending and is tried again with a
// backoff. One batch at a time; close() leaves no watcher and no timer behind.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { AgentRpc } from '../agent/rpc';
import type { HashCache } from '../code/hash-cache';
import { checkRepoSize, listRepoFiles } from '../code/repo-files';
import { uploadCode, type UploadProgress, type UploadResult } from '../code/upload';
import type { Logger } from '../logger';
import { Batcher, type BatcherOptions, type PathKind } from './batcher';
import { isIgnoreFile, localDelta, signature, type Signature } from './changes';
import type { SyncState } from './state';
import { watchRepo, type RepoWatcher } from './watcher';

const execFileP = promisify(execFile);

export interface BatchReport {
  kind: 'reconcile' | 'delta';
  /** Files written and removed on the instance (as the agent counted them). */
  written: number;
  removed: number;
  /** Paths sent (changed, then removed). */
  paths: string[];
  sentBlobs: number;
  sentBytes: number;
  /** Agent calls: PutManifest, PutBlobs (only with missing blobs), CommitCode. */
  roundTrips: number;
  ms: number;
  conflicts: UploadResult['conflicts'];
}

export interface SessionOptions {
  runName: string;
  root: string;
  jobId: string;
  agent: () => Promise<AgentRpc>;
  hashCache: HashCache;
  repoSizeLimit: number;
  log: Logger;
  batcher?: Partial<BatcherOptions>;
  onState(state: SyncState, error?: string): void;
  onBatch(report: BatchReport): void;
  /** A delta is about to go: how much. */
  onSending?(s: { files: number; removed: number; bytes: number }): void;
  onProgress?(p: UploadProgress): void;
}

const BACKOFF_MS = [1_000, 2_000, 5_000, 10_000, 30_000];
/** An index.lock older than this is a crashed git's, not a checkout in progress. */
const FRESH_LOCK_MS = 60_000;

async function gitDirOf(root: string): Promise<string | null> {
  try {
    const { stdout } = await execFileP('git', ['-C', root, 'rev-parse', '--absolute-git-dir']);
    return stdout.trim() || null;
  } catch {
    return null;
  }
}

export class SyncSession {
  private watcher?: RepoWatcher;
  private readonly batcher: Batcher;
  /** What the instance has from us, by path: the local files as last synced. */
  private synced = new Map<string, Signature>();
  private needReconcile = true;
  private busy = false;
  private retryTimer?: NodeJS.Timeout;
  private failures = 0;
  private closed = false;
  private gitDir: string | null = null;
  private restarting?: Promise<void>;

  constructor(private readonly o: SessionOptions) {
    this.batcher = new Batcher({ hold: () => this.gitBusy(), ...o.batcher }, () => void this.pump());
  }

  /** Paths changed locally and not yet on the instance. */
  get pending(): number {
    return this.batcher.size;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** For tests: nothing is left running after close(). */
  get idle(): boolean {
    return !this.batcher.armed && !this.retryTimer && (!this.watcher || this.watcher.closed);
  }

  async start(): Promise<void> {
    try {
      this.gitDir = await gitDirOf(this.o.root);
      await this.startWatcher();
    } catch (err) {
      this.failed(err);
      return;
    }
    void this.pump();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.batcher.close();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.restarting?.catch(() => {});
    await this.watcher?.close();
  }

  private gitBusy(): boolean {
    if (!this.gitDir) return false;
    const lock = join(this.gitDir, 'index.lock');
    try {
      return Date.now() - statSync(lock).mtimeMs < FRESH_LOCK_MS;
    } catch {
      return false;
    }
  }

  private async startWatcher(): Promise<void> {
    const next = await watchRepo({
      root: this.o.root,
      git: this.gitDir !== null,
      onChange: (rel, kind) => this.batcher.add(rel, kind),
      onError: (err) => this.o.log.warn(`sync ${this.o.runName}: watcher error`, { error: err }),
    });
    if (this.closed) {
      await next.close();
      return;
    }
    const old = this.watcher;
    this.watcher = next;
    await old?.close();
  }

  /** Sends what is pending, unless a batch is on its way or a retry is waiting. */
  private async pump(): Promise<void> {
    if (this.busy || this.closed || this.retryTimer) return;
    if (!this.needReconcile && !this.batcher.size) return;
    this.busy = true;
    const taken = this.batcher.take();
    try {
      if ([...taken.keys()].some(isIgnoreFile)) {
        // What counts changed: watch by the new rules, and compare the whole tree.
        this.needReconcile = true;
        this.restarting = this.startWatcher();
        await this.restarting;
      }
      if (this.needReconcile) await this.reconcile();
      else await this.delta(taken);
      this.needReconcile = false;
      this.failures = 0;
      if (!this.closed) this.o.onState('watching');
    } catch (err) {
      this.batcher.restore(taken);
      this.failed(err);
    } finally {
      this.busy = false;
      this.restarting = undefined;
      if (!this.closed && !this.retryTimer) this.batcher.poke();
    }
  }

  private failed(err: unknown): void {
    if (this.closed) return;
    const message = err instanceof Error ? err.message : String(err);
    const delay = BACKOFF_MS[Math.min(this.failures, BACKOFF_MS.length - 1)];
    this.failures++;
    this.o.log.warn(`sync ${this.o.runName}: batch failed, retrying in ${delay / 1000}s`, { error: message });
    this.o.onState('error', message);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      // The watcher may never have started (the repo was missing, say).
      if (!this.watcher) void this.start();
      else void this.pump();
    }, delay);
  }

  private async reconcile(): Promise<void> {
    const t0 = Date.now();
    const listing = await listRepoFiles(this.o.root);
    checkRepoSize(listing, this.o.repoSizeLimit);
    const { files } = await this.o.hashCache.hash(listing.files);
    if (this.closed) return;
    this.o.onState('syncing');
    const rpc = await this.o.agent();
    const res = await uploadCode(rpc, this.o.jobId, files, (p) => this.o.onProgress?.(p), { full: true, localChangesOnly: true });
    this.synced = new Map(files.map((f) => [f.path, signature(f)]));
    this.report('reconcile', res, [], t0);
  }

  private async delta(dirty: Map<string, PathKind>): Promise<void> {
    const t0 = Date.now();
    const d = await localDelta(this.o.root, dirty, this.synced, this.o.hashCache);
    if (this.closed || (!d.files.length && !d.removed.length)) return;
    this.o.onState('syncing');
    this.o.onSending?.({ files: d.files.length, removed: d.removed.length, bytes: d.files.reduce((n, f) => n + f.size, 0) });
    const rpc = await this.o.agent();
    // A file replaced by a folder (or back): the removal must land before what goes under it.
    const gone = new Set(d.removed);
    const blocked = d.files.some((f) => f.path.split('/').some((_, i, parts) => i > 0 && gone.has(parts.slice(0, i).join('/'))));
    if (blocked) {
      const first = await uploadCode(rpc, this.o.jobId, [], undefined, { full: false, removed: d.removed });
      for (const p of d.removed) this.synced.delete(p);
      this.report('delta', first, d.removed, t0);
      d.removed = [];
    }
    const res = await uploadCode(rpc, this.o.jobId, d.files, (p) => this.o.onProgress?.(p), { full: false, removed: d.removed });
    for (const f of d.files) this.synced.set(f.path, signature(f));
    for (const p of d.removed) this.synced.delete(p);
    this.report('delta', res, [...d.files.map((f) => f.path), ...d.removed], t0);
  }

  private report(kind: BatchReport['kind'], res: UploadResult, paths: string[], t0: number): void {
    const roundTrips = 2 + (res.sentBlobs ? 1 : 0);
    const r: BatchReport = {
      kind,
      written: res.written,
      removed: res.removed,
      paths,
      sentBlobs: res.sentBlobs,
      sentBytes: res.sentBytes,
      roundTrips,
      ms: Date.now() - t0,
      conflicts: res.conflicts,
    };
    this.o.log.info(
      `sync ${this.o.runName}: ${kind} of ${kind === 'reconcile' ? res.files : paths.length} file(s): ${res.written} written, ${res.removed} removed, ` +
        `${res.sentBlobs} blob(s) sent (${res.sentBytes} bytes), ${res.conflicts.length} conflict(s); ` +
        `${roundTrips} agent round trips (PutManifest${res.sentBlobs ? ', PutBlobs' : ''}, CommitCode) in ${r.ms} ms ` +
        `(local scan ${r.ms - res.transferMs - res.commitMs} ms, manifest ${res.manifestMs} ms, blobs ${res.transferMs - res.manifestMs} ms, commit ${res.commitMs} ms)`,
    );
    this.o.onBatch(r);
  }
}
