// FleetEvents as the user reads them while a fleet is applied or deleted: one line per host and
// stage (`root@10.0.0.2:22  uploading the agent (99 MB, compressed)`), warnings and failures named
// by host. On a terminal the agent upload's bytes move on a live line; in a pipe only the lines.
import type { Fleet, FleetEvent } from '@dstack/core/gen/daemon';
import type { Writable } from 'node:stream';
import type { EventStream } from '../daemon/client';
import { formatBytes } from '@dstack/core/bytes';
import { LiveLine } from '../ui/progress';

export interface FleetStreamResult {
  /** The fleet as the last event had it. */
  fleet?: Fleet;
  /** Hosts that failed, with why. */
  failures: { host: string; message: string }[];
  /** Warnings, by host. */
  warnings: { host: string; message: string }[];
  /** The last event's summary. */
  summary: string;
  /** Agent bytes sent per host (the last report of each). */
  uploadedBytes: Map<string, number>;
  /** The stream ended before its `done` event (Ctrl+C, a lost daemon). */
  interrupted: boolean;
}

/** One event as a line, or undefined for events that only move a live line. */
export function eventLine(ev: FleetEvent, width: number): string | undefined {
  if (ev.progress) return undefined;
  const host = ev.host.padEnd(width);
  if (ev.error) return ` ${host}  failed: ${ev.message}`;
  if (ev.warning) return ` ${host}  warning: ${ev.message}`;
  return ` ${host}  ${ev.message || ev.stage.replace(/_/g, ' ')}`;
}

export async function followFleetEvents(
  stream: EventStream<FleetEvent>,
  opts: { out?: Writable; hostWidth?: number; signal?: AbortSignal } = {},
): Promise<FleetStreamResult> {
  const out = opts.out ?? process.stdout;
  const line = new LiveLine(process.stderr);
  const result: FleetStreamResult = { failures: [], warnings: [], summary: '', uploadedBytes: new Map(), interrupted: true };
  const onAbort = () => stream.cancel();
  opts.signal?.addEventListener('abort', onAbort);
  let width = opts.hostWidth ?? 0;
  try {
    for await (const ev of stream) {
      if (ev.host) {
        width = Math.max(width, ev.host.length);
        if (ev.uploadedBytes || !result.uploadedBytes.has(ev.host)) result.uploadedBytes.set(ev.host, ev.uploadedBytes);
      }
      if (ev.stage === 'done') {
        result.fleet = ev.fleet;
        result.summary = ev.message;
        result.interrupted = false;
        continue;
      }
      if (ev.progress) {
        line.set(`${ev.host}  uploading the agent: ${formatBytes(ev.progress.current)} sent`);
        continue;
      }
      if (ev.error) result.failures.push({ host: ev.host, message: ev.message });
      else if (ev.warning) result.warnings.push({ host: ev.host, message: ev.message });
      const text = eventLine(ev, width);
      if (text) line.print(`${text}\n`, out);
    }
  } finally {
    line.clear();
    opts.signal?.removeEventListener('abort', onAbort);
  }
  return result;
}
