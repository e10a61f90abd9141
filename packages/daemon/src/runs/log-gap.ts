// Agent log lines the daemon missed (its Events stream dropped, the daemon was down, a job ended
// before its last lines arrived): fetched from the agent's own log with GetLogs, from the offset
// just past the last line we hold, so the run's log stays in order with no gap and no repeat.
import { LogStream } from '@dstack/core/gen/agent';
import type { AgentManager } from '../agent/manager';
import { isNotFound } from '../agent/rpc';
import type { Logger } from '../logger';
import type { LogStreamName, RunLogs } from '../logs/run-log';
import type { RunRow } from '../state/runs-store';
import type { RunBook } from './bookkeeping';

export function streamName(s: LogStream): LogStreamName {
  return s === LogStream.LOG_STREAM_STDERR ? 'stderr' : s === LogStream.LOG_STREAM_AGENT ? 'agent' : 'stdout';
}

export interface LogGapDeps {
  book: Pick<RunBook, 'liveOf'>;
  agents: Pick<AgentManager, 'current'>;
  logs: RunLogs;
  log: Logger;
}

export class LogGap {
  constructor(private readonly d: LogGapDeps) {}

  /** Lines the agent wrote while we were not listening: fetch them from its log. */
  async fill(row: RunRow): Promise<void> {
    const live = this.d.book.liveOf(row.id);
    if (live.filling) {
      live.refill = true;
      return;
    }
    const handle = this.d.agents.current(row.instanceKey);
    if (!handle) return;
    const log = this.d.logs.get(row.id);
    live.filling = true;
    try {
      do {
        live.refill = false;
        for (let i = 0; i < 64; i++) {
          const from = log.agentOffset(row.jobId);
          const res = await handle.rpc.getLogs({ jobId: row.jobId, fromOffset: from, sinceMs: 0, limitBytes: 0 });
          for (const l of res.lines) {
            log.append({
              timeMs: l.timeMs,
              stream: streamName(l.stream),
              data: Buffer.from(l.data),
              jobId: row.jobId,
              agentOffset: l.offset,
            });
          }
          if (!res.lines.length || res.nextOffset <= from) break;
        }
      } while (live.refill);
    } catch (err) {
      if (!isNotFound(err)) this.d.log.debug(`run ${row.name}: could not fetch logs`, { error: err as Error });
    } finally {
      live.filling = false;
    }
  }
}
