// Turns a burst of file events into one batch: a batch goes once the repo has been quiet for a
// moment (longer once the batch is large, as during a checkout), at the latest `maxWaitMs` after its
// first change, and never while `hold()` says a bulk change is under way (git holds its index lock
// through a checkout), up to `holdMaxMs`. Once a hold it waited for ends, the bulk change is all on
// disk: only the short quiet period is left, for the watcher's last events. The batcher only times;
// the caller sends.

export type PathKind = 'file' | 'dir';

export interface BatcherOptions {
  quietMs: number;
  /** Quiet time once `bulkThreshold` paths are pending. */
  bulkQuietMs: number;
  bulkThreshold: number;
  maxWaitMs: number;
  hold?: () => boolean;
  holdMaxMs: number;
  holdPollMs: number;
}

export const DEFAULT_BATCHER: BatcherOptions = {
  quietMs: 100,
  bulkQuietMs: 600,
  bulkThreshold: 50,
  maxWaitMs: 5_000,
  holdMaxMs: 60_000,
  holdPollMs: 25,
};

export class Batcher {
  private paths = new Map<string, PathKind>();
  private timer?: NodeJS.Timeout;
  private firstAt = 0;
  private lastAt = 0;
  /** The pending batch waited for a hold (a checkout): its long quiet period is not needed. */
  private held = false;
  private closed = false;
  private readonly opts: BatcherOptions;

  constructor(
    opts: Partial<BatcherOptions>,
    private readonly onReady: () => void,
    private readonly now: () => number = Date.now,
  ) {
    this.opts = { ...DEFAULT_BATCHER, ...opts };
  }

  get size(): number {
    return this.paths.size;
  }

  /** A path changed (a directory event wins over a file event for the same path). */
  add(path: string, kind: PathKind): void {
    if (this.closed) return;
    if (this.paths.get(path) !== 'dir') this.paths.set(path, kind);
    const t = this.now();
    if (this.paths.size === 1 || !this.firstAt) this.firstAt = t;
    this.lastAt = t;
    // A timer already set re-checks against lastAt when it fires.
    if (!this.timer) this.arm(0);
  }

  /** The pending paths, handed over; the batcher starts a new batch. */
  take(): Map<string, PathKind> {
    const out = this.paths;
    this.paths = new Map();
    this.firstAt = 0;
    this.held = false;
    this.clear();
    return out;
  }

  /** Paths of a batch that failed: pending again (newer events for them are kept). */
  restore(paths: Map<string, PathKind>): void {
    for (const [p, k] of paths) if (!this.paths.has(p) || k === 'dir') this.paths.set(p, k);
    if (this.paths.size && !this.firstAt) this.firstAt = this.now();
  }

  /** Check again whether the pending batch may go (after the caller finished a previous one). */
  poke(): void {
    if (this.paths.size) this.arm(0);
  }

  close(): void {
    this.closed = true;
    this.clear();
    this.paths.clear();
  }

  /** True while a timer is set (for tests: nothing is left behind after close). */
  get armed(): boolean {
    return this.timer !== undefined;
  }

  private clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(delayMs: number): void {
    if (this.closed) return;
    this.clear();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.check();
    }, delayMs);
  }

  private check(): void {
    if (this.closed || !this.paths.size) return;
    const o = this.opts;
    const t = this.now();
    if (o.hold && t - this.firstAt < o.holdMaxMs && o.hold()) {
      this.held = true;
      this.arm(o.holdPollMs);
      return;
    }
    const quiet = this.held || this.paths.size < o.bulkThreshold ? o.quietMs : o.bulkQuietMs;
    const due = Math.min(this.lastAt + quiet, this.firstAt + o.maxWaitMs);
    if (t < due) {
      this.arm(due - t);
      return;
    }
    this.onReady();
  }
}
