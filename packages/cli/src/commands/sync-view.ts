// How a run's live sync reads: two short lines for `dstack ps -v`, and the full report of
// `dstack sync NAME`.
import type { SyncStatus } from '@dstack/core/gen/daemon';
import { prettyDate } from '../ui/time-format';

const PS_ERROR_CHARS = 24;

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function clip(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

/**
 * `(sync: watching)`, `(2 pending)`, `(last synced 8 sec ago)`, `(1 conflict)`: short lines, so the
 * STATUS column stays narrow; nothing when sync is off.
 */
export function syncStatusLines(s: SyncStatus | undefined, now = Date.now()): string[] {
  if (!s || s.state === 'off') return [];
  const lines = [`(sync: ${s.state === 'error' ? `error: ${clip(s.error, PS_ERROR_CHARS)}` : s.state})`];
  if (s.pending) lines.push(`(${s.pending} pending)`);
  lines.push(s.lastSyncedMs ? `(last synced ${prettyDate(s.lastSyncedMs, now)})` : '(not synced yet)');
  if (s.conflicts.length) lines.push(`(${plural(s.conflicts.length, 'conflict')})`);
  return lines;
}

/** The state as `dstack sync NAME` prints it. */
export function syncReport(s: SyncStatus, now = Date.now()): string {
  const lines = [`Sync of ${s.runName}: ${s.state}${s.state === 'off' && s.error ? ` (${s.error})` : ''}`];
  const row = (k: string, v: string) => lines.push(`  ${`${k}:`.padEnd(13)}${v}`);
  if (s.repoDir) row('local', s.repoDir);
  if (s.remoteDir) row('remote', `${s.runName}:${s.remoteDir}`);
  if (s.state !== 'off') row('pending', String(s.pending));
  if (s.lastSyncedMs) {
    row(
      'last synced',
      `${prettyDate(s.lastSyncedMs, now)} (${plural(Number(s.filesSynced), 'file')} in ${plural(Number(s.batches), 'batch', 'batches')}, ${Number(s.roundTrips)} agent round trips)`,
    );
  } else if (s.state !== 'off') row('last synced', 'not yet');
  if (s.state === 'error') row('error', s.error);
  if (s.conflicts.length) {
    row('conflicts', `${s.conflicts.length} (the instance's version is kept as shown; the path itself follows your local copy)`);
    for (const c of s.conflicts) lines.push(`    ${c.path} → ${c.keptAs} (${prettyDate(Number(c.timeMs), now)})`);
  }
  return `${lines.join('\n')}\n`;
}
