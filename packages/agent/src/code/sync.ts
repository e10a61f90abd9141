// Writes a committed manifest into a job's work dir.
//
// The agent remembers what it wrote last (synced.json: per path the sha256, kind, and the size,
// mtime and inode it had right after writing, to tell "unchanged" without hashing). A later commit
// never overwrites or deletes a file that changed on the instance since: that version is kept as
// `PATH.remote-conflict` (`.remote-conflict.2`, ... when an earlier one is still there) and reported. A file that exists on the instance but was never synced counts
// as changed there (the user made it). Live sync relies on this.
import { createHash } from 'node:crypto';
import { chmodSync, lstatSync, mkdirSync, readFileSync, readlinkSync, renameSync, rmSync, rmdirSync, symlinkSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import type { Conflict, ManifestEntry } from '@dstack/core/gen/agent';
import type { BlobStore } from './blobs';
import { safeJoin } from './paths';
import { writeDataSync, writeFromBlobSync } from './write-file';

export type Kind = 'file' | 'link' | 'dir';

export interface SyncedEntry {
  kind: Kind;
  /** sha256 of a file's content; the target of a link; "" for a dir. */
  sha: string;
  mode: number;
  size: number;
  mtimeMs: number;
  ino: number;
}

export type SyncState = Record<string, SyncedEntry>;

export interface CommitInput {
  full: boolean;
  entries: ManifestEntry[];
  removed: string[];
  /** Skip entries equal to what was last synced to their path (live sync's reconcile). */
  localChangesOnly?: boolean;
  /** Blobs held in memory (a live-sync batch's small files); the rest are in the store. */
  inline?: ReadonlyMap<string, Buffer>;
}

export interface CommitResult {
  written: number;
  removed: number;
  conflicts: Conflict[];
}

export const CONFLICT_SUFFIX = '.remote-conflict';

function kindOf(e: ManifestEntry): Kind {
  return e.directory ? 'dir' : e.symlinkTarget ? 'link' : 'file';
}

function lstatOr(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

function statKind(st: Stats): Kind {
  return st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'link' : 'file';
}

function hashFile(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** What is at `abs` now, comparable with a SyncedEntry (hashing only when needed). */
function current(abs: string, st: Stats, hint?: SyncedEntry): { kind: Kind; sha: string } {
  const kind = statKind(st);
  if (kind === 'dir') return { kind, sha: '' };
  if (kind === 'link') return { kind, sha: readlinkSync(abs) };
  if (hint && hint.kind === 'file' && hint.size === st.size && hint.mtimeMs === st.mtimeMs && hint.ino === st.ino) return { kind, sha: hint.sha };
  return { kind, sha: hashFile(abs) };
}

function record(abs: string, kind: Kind, sha: string, mode: number): SyncedEntry {
  const st = lstatSync(abs);
  return { kind, sha, mode, size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
}

/** A folder left empty by a removal goes too (a folder deleted or renamed locally); one holding anything stays. */
function removeEmptyParents(workDir: string, abs: string): void {
  for (let dir = dirname(abs); dir.startsWith(`${workDir}/`); dir = dirname(dir)) {
    try {
      rmdirSync(dir);
    } catch {
      return;
    }
  }
}

export function applyCommit(workDir: string, blobs: BlobStore, synced: SyncState, input: CommitInput): CommitResult {
  const result: CommitResult = { written: 0, removed: 0, conflicts: [] };
  mkdirSync(workDir, { recursive: true });

  const keep = (rel: string, abs: string, localSha: string, remoteSha: string) => {
    // An earlier kept version may not have been looked at yet: never replace it.
    let suffix = CONFLICT_SUFFIX;
    for (let n = 2; lstatOr(`${abs}${suffix}`); n++) suffix = `${CONFLICT_SUFFIX}.${n}`;
    const keptAs = `${rel}${suffix}`;
    renameSync(abs, `${abs}${suffix}`);
    result.conflicts.push({ path: rel, keptAs, localSha256: localSha, remoteSha256: remoteSha });
  };

  // Directories first, shallow before deep; then links and files in path order.
  const entries = [...input.entries].sort((a, b) => {
    const da = a.directory ? 0 : 1;
    const db = b.directory ? 0 : 1;
    return da - db || a.path.split('/').length - b.path.split('/').length || (a.path < b.path ? -1 : 1);
  });
  const inManifest = new Set<string>();
  for (const e of entries) {
    const abs = safeJoin(workDir, e.path);
    const rel = abs.slice(workDir.length + 1);
    inManifest.add(rel);
    const kind = kindOf(e);
    const want = kind === 'file' ? e.sha256 : kind === 'link' ? e.symlinkTarget : '';
    const mode = (e.mode & 0o7777) || (kind === 'dir' ? 0o755 : 0o644);
    const prev = synced[rel];
    // Unchanged locally since the last sync: whatever the instance did to it stays.
    if (input.localChangesOnly && prev && prev.kind === kind && prev.sha === want && prev.mode === mode) continue;
    const st = lstatOr(abs);
    if (st) {
      const now = current(abs, st, prev);
      if (now.kind === kind && now.sha === want) {
        // Already as wanted (a re-apply, or the same edit on both sides).
        if (kind !== 'link' && (st.mode & 0o7777) !== mode) chmodSync(abs, mode);
        synced[rel] = record(abs, kind, want, mode);
        continue;
      }
      const changedHere = !prev || prev.kind !== now.kind || prev.sha !== now.sha;
      // A directory in the way is kept aside whole: it may hold files made on the instance. A file
      // or link we wrote is replaced by the rename below.
      if (changedHere || now.kind === 'dir') keep(rel, abs, want, now.kind === 'file' ? now.sha : '');
    }
    mkdirSync(dirname(abs), { recursive: true });
    if (kind === 'dir') {
      mkdirSync(abs, { recursive: true });
      chmodSync(abs, mode);
      synced[rel] = record(abs, kind, want, mode);
    } else if (kind === 'link') {
      const tmp = `${abs}.dstack-tmp-${process.pid}`;
      rmSync(tmp, { force: true });
      symlinkSync(e.symlinkTarget, tmp);
      renameSync(tmp, abs);
      synced[rel] = record(abs, kind, want, mode);
    } else {
      // Written aside and renamed into place: a reader on the instance sees the old or the new file,
      // never half of one. Whatever is at the temp name goes first (the write refuses to follow a link).
      const tmp = `${abs}.dstack-tmp-${process.pid}`;
      rmSync(tmp, { force: true });
      const data = input.inline?.get(e.sha256);
      const st = data ? writeDataSync(data, tmp, mode) : writeFromBlobSync(blobs.path(e.sha256), tmp, mode);
      renameSync(tmp, abs);
      synced[rel] = { kind, sha: want, mode, ...st };
    }
    result.written++;
  }

  const toRemove = input.full ? Object.keys(synced).filter((p) => !inManifest.has(p)) : input.removed.map((p) => safeJoin(workDir, p).slice(workDir.length + 1));
  // Deepest first, so a directory is empty (of synced files) by the time its turn comes.
  toRemove.sort((a, b) => b.split('/').length - a.split('/').length || (a < b ? 1 : -1));
  for (const rel of toRemove) {
    const prev = synced[rel];
    let abs: string;
    try {
      abs = safeJoin(workDir, rel);
    } catch {
      delete synced[rel];
      continue;
    }
    const st = lstatOr(abs);
    delete synced[rel];
    if (!st) continue;
    const now = current(abs, st, prev);
    if (now.kind === 'dir') {
      try {
        rmdirSync(abs); // only when empty: files made on the instance inside stay
        result.removed++;
      } catch {
        /* not empty */
      }
      continue;
    }
    if (!prev || prev.kind !== now.kind || prev.sha !== now.sha) keep(rel, abs, '', now.kind === 'file' ? now.sha : '');
    else {
      rmSync(abs, { force: true });
      result.removed++;
      removeEmptyParents(workDir, abs);
    }
  }
  return result;
}
