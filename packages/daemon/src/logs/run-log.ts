// The daemon's own copy of each run's log ($DSTACK_HOME/runs/<run id>/log.jsonl), fed from the
// agent's events: GetLogs and Attach work after the run ended, after the instance is gone, and
// across daemon restarts. Offsets are the run's own byte count (they survive compaction); each
// line also keeps the agent's offset in its job's log, so lines resent after a reconnect are
// dropped and a gap can be filled with the agent's GetLogs. Bounded: past `capBytes` the oldest half
// is dropped.
import { EventEmitter } from 'node:events';
import { appendFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { writeFileAtomic } from '@dstack/core/atomic-write';
import { join } from 'node:path';

export type LogStreamName = 'stdout' | 'stderr' | 'agent' | 'daemon';

export interface RunLogEntry {
  offset: number;
  timeMs: number;
  stream: LogStreamName;
  data: Buffer;
}

interface Line {
  o: number;
  t: number;
  s: LogStreamName;
  d: string;
  j?: string;
  a?: number;
}

export const DEFAULT_LOG_CAP = 8 * 1024 * 1024;

export class RunLog extends EventEmitter {
  private nextOffset = 0;
  /** Per job: the agent offset just past the last line we hold. */
  private agentNext = new Map<string, number>();
  private size = 0;

  private constructor(
    readonly file: string,
    private readonly capBytes: number,
  ) {
    super();
    this.setMaxListeners(0);
  }

  static open(dir: string, capBytes = DEFAULT_LOG_CAP): RunLog {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const log = new RunLog(join(dir, 'log.jsonl'), capBytes);
    if (existsSync(log.file)) {
      log.size = statSync(log.file).size;
      for (const l of log.lines()) log.track(l);
    }
    return log;
  }

  private track(l: Line): void {
    this.nextOffset = l.o + Buffer.byteLength(l.d, 'base64');
    if (l.j !== undefined && l.a !== undefined) {
      const end = l.a + Buffer.byteLength(l.d, 'base64');
      if (end > (this.agentNext.get(l.j) ?? 0)) this.agentNext.set(l.j, end);
    }
  }

  private lines(): Line[] {
    if (!existsSync(this.file)) return [];
    const out: Line[] = [];
    for (const raw of readFileSync(this.file, 'utf8').split('\n')) {
      if (!raw) continue;
      try {
        out.push(JSON.parse(raw) as Line);
      } catch {
        /* a line torn by a crash mid-write */
      }
    }
    return out;
  }

  /** Where the agent's log of `jobId` continues past what we hold. */
  agentOffset(jobId: string): number {
    return this.agentNext.get(jobId) ?? 0;
  }

  get endOffset(): number {
    return this.nextOffset;
  }

  /**
   * Appends a line; returns it, or undefined when it is a line of the agent's we already hold.
   */
  append(e: { timeMs: number; stream: LogStreamName; data: Buffer; jobId?: string; agentOffset?: number }): RunLogEntry | undefined {
    if (e.jobId !== undefined && e.agentOffset !== undefined && e.agentOffset < this.agentOffset(e.jobId)) return undefined;
    const line: Line = { o: this.nextOffset, t: e.timeMs, s: e.stream, d: e.data.toString('base64') };
    if (e.jobId !== undefined && e.agentOffset !== undefined) {
      line.j = e.jobId;
      line.a = e.agentOffset;
    }
    const text = `${JSON.stringify(line)}\n`;
    appendFileSync(this.file, text, { mode: 0o600 });
    this.size += Buffer.byteLength(text);
    this.track(line);
    const entry: RunLogEntry = { offset: line.o, timeMs: line.t, stream: line.s, data: e.data };
    this.emit('entry', entry);
    if (this.size > this.capBytes) this.compact();
    return entry;
  }

  /** Keeps the newest half of the cap. */
  private compact(): void {
    const keep: string[] = [];
    let bytes = 0;
    const all = this.lines();
    for (let i = all.length - 1; i >= 0; i--) {
      const text = `${JSON.stringify(all[i])}\n`;
      if (bytes + text.length > this.capBytes / 2) break;
      keep.unshift(text);
      bytes += text.length;
    }
    writeFileAtomic(this.file, keep.join(''), { mode: 0o600, durable: false });
    this.size = bytes;
  }

  read({ fromOffset = 0, sinceMs = 0 } = {}): RunLogEntry[] {
    return this.lines()
      .filter((l) => l.o + Buffer.byteLength(l.d, 'base64') > fromOffset && l.t >= sinceMs)
      .map((l) => ({ offset: l.o, timeMs: l.t, stream: l.s, data: Buffer.from(l.d, 'base64') }));
  }
}

/** One RunLog per run, opened on demand and kept open (its listeners are the attached CLIs). */
export class RunLogs {
  private open = new Map<string, RunLog>();

  constructor(private readonly runsDir: string) {}

  get(runId: string): RunLog {
    let l = this.open.get(runId);
    if (!l) {
      l = RunLog.open(join(this.runsDir, runId));
      this.open.set(runId, l);
    }
    return l;
  }

  dir(runId: string): string {
    return join(this.runsDir, runId);
  }

  forget(runId: string): void {
    this.open.get(runId)?.removeAllListeners();
    this.open.delete(runId);
  }
}
