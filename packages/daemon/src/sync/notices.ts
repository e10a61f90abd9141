// The one-line notices live sync sends to attached CLIs (and, for starts and conflicts, to the run's
// log): what went where, and for a conflict which copy is where.
import { formatBytes } from '@dstack/core/bytes';
import type { BatchReport } from './session';

const SHOWN_PATHS = 3;
/** A batch this large is announced before it goes. */
const LARGE_FILES = 100;
const LARGE_BYTES = 1 << 20;

export function startNotice(repoDir: string, runName: string, remoteDir: string, resumed: boolean): string {
  const what = resumed ? 'Sync resumed after a daemon restart' : 'Sync on';
  return `${what}: local changes in ${repoDir} go to ${runName}:${remoteDir} (one-way; files changed on the instance are never overwritten)`;
}

function plural(n: number, one: string): string {
  return `${n} ${one}${n === 1 ? '' : 's'}`;
}

/** One line per batch that changed something; undefined when nothing changed. */
export function batchNotice(b: BatchReport): string | undefined {
  if (b.kind === 'reconcile') {
    if (!b.written && !b.removed) return 'Sync: the instance is up to date';
    return `Sync: reconciled: ${plural(b.written, 'file')} written, ${b.removed} removed`;
  }
  if (!b.paths.length) return undefined;
  const shown = b.paths.slice(0, SHOWN_PATHS).join(', ');
  const more = b.paths.length > SHOWN_PATHS ? `, +${b.paths.length - SHOWN_PATHS} more` : '';
  return `Synced ${plural(b.paths.length, 'file')}: ${shown}${more}`;
}

/** Before a large batch goes (it may take a while): what it holds. */
export function sendingNotice(s: { files: number; removed: number; bytes: number }): string | undefined {
  if (s.files + s.removed < LARGE_FILES && s.bytes < LARGE_BYTES) return undefined;
  const removing = s.removed ? `, removing ${s.removed}` : '';
  return `Sync: sending ${plural(s.files, 'file')} (${formatBytes(s.bytes)})${removing}...`;
}

export function conflictNotice(c: { path: string; keptAs: string; localDeleted: boolean }): string {
  const yours = c.localDeleted ? `${c.path} is gone, as you deleted it locally` : `${c.path} has your local version`;
  return `Sync conflict: ${c.path} changed on the instance since it was last synced; the instance's version is kept as ${c.keptAs}, ${yours}`;
}
