// Writes a committed manifest into a job's code dir.
//
// The agent remembers what it wrote last (synced.json: per path the sha256, kind, and the size,
// mtime and inode it had right after writing, to tell "unchanged" without hashing). A later commit
// never overwrites or deletes a file that changed on the instance since: that version is kept as
// `PATH.remote-conflict` (`.remote-conflict.2`, ... when an earlier one is still there) and reported. A file that exists on the instance but was never synced counts
// as changed there (the user made it). Live sync relies on this.
import { createHash } from 'node:crypto';
import {
  closeSync,
  constants,
  fstatSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  readSync,
  readlinkSync,
  renameSync,
  rmdirSync,
  symlinkSync,
  unlinkSync,
  type Stats,
} from 'node:fs';
import { rename } from 'node:fs/promises';
import type { Conflict, ManifestEntry } from '@dstack/core/gen/agent';
import type { BlobStore } from './blobs';
import type { HeldDir, Owner } from '../safe-fs/held-dir';
import { TreeDirs, checkRelPath, splitRel } from '../safe-fs/tree-dirs';
import { writeData, writeFromBlob, type Written } from './write-file';

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

export type SyncedTree = Record<string, SyncedEntry>;

export interface CommitInput {
  full: boolean;
  entries: ManifestEntry[];
  removed: string[];
  /** Skip entries equal to what was last synced to their path (live sync's reconcile). */
  localChangesOnly?: boolean;
  /** Blobs held in memory (a live-sync batch's small files); the rest are in the store. */
  inline?: ReadonlyMap<string, Buffer>;
  /** Who what this commit creates belongs to (the job's user); the agent's own user when absent. */
  owner?: Owner;
}

export interface CommitResult {
  written: number;
  removed: number;
  conflicts: Conflict[];
}

export const CONFLICT_SUFFIX = '.remote-conflict';

/** What the manifest may say of a mode: permission bits only (no setuid, setgid or sticky). */
export function entryMode(e: ManifestEntry, kind: Kind): number {
  return e.mode & 0o777 || (kind === 'dir' ? 0o755 : 0o644);
}

export function kindOf(e: ManifestEntry): Kind {
  return e.directory ? 'dir' : e.symlinkTarget ? 'link' : 'file';
}

type Found = Kind | 'other';

function statKind(st: Stats): Found {
  return st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'link' : st.isFile() ? 'file' : 'other';
}

/**
 * The sha256 of entry `name` of `dir`, read through a descriptor: never through a link, and never
 * blocking on a FIFO the job put there (undefined: not a regular file any more).
 */
function hashEntry(dir: HeldDir, name: string): string | undefined {
  const fd = dir.open(name, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    if (!fstatSync(fd).isFile()) return undefined;
    const hash = createHash('sha256');
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) hash.update(buf.subarray(0, n));
    return hash.digest('hex');
  } finally {
    closeSync(fd);
  }
}

/** What is at entry `name` now, comparable with a SyncedEntry (hashing only when needed). */
function current(dir: HeldDir, name: string, st: Stats, hint?: SyncedEntry): { kind: Found; sha: string } {
  const kind = statKind(st);
  if (kind === 'dir' || kind === 'other') return { kind, sha: '' };
  if (kind === 'link') return { kind, sha: readlinkSync(dir.at(name)) };
  if (hint && hint.kind === 'file' && hint.size === st.size && hint.mtimeMs === st.mtimeMs && hint.ino === st.ino)
    return { kind, sha: hint.sha };
  const sha = hashEntry(dir, name);
  return sha === undefined ? { kind: 'other', sha: '' } : { kind, sha };
}

function record(st: Stats, kind: Kind, sha: string, mode: number): SyncedEntry {
  return { kind, sha, mode, size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
}

/** Files copied from blobs at once, on the thread pool, so their syscalls overlap. */
const PARALLEL = 16;
/** Small files are written in the calling thread; it yields to the event loop (other jobs' SSH sessions) this often. */
const SLICE_MS = 10;

/** Runs `fn` over `items`, at most `limit` at a time, yielding to the event loop at least every SLICE_MS. */
export async function eachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let sliceStart = performance.now();
  const worker = async () => {
    while (next < items.length) {
      await fn(items[next++]);
      if (performance.now() - sliceStart > SLICE_MS) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        sliceStart = performance.now();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * A name another entry's work could touch: its kept version (`NAME.remote-conflict[.N]`) or its temp
 * file. Entries with such names go one at a time after the rest, so that entries handled at once
 * never touch the same name.
 */
function touchesOthers(name: string): boolean {
  return name.includes(CONFLICT_SUFFIX) || name.includes(TMP_INFIX);
}

const TMP_INFIX = '.dstack-tmp-';

function lstatAt(dir: HeldDir, name: string): Stats | undefined {
  return lstatSync(dir.at(name), { throwIfNoEntry: false });
}

export async function mergeCommit(codeDir: string, blobs: BlobStore, synced: SyncedTree, input: CommitInput): Promise<CommitResult> {
  const result: CommitResult = { written: 0, removed: 0, conflicts: [] };
  mkdirSync(codeDir, { recursive: true });
  const owner = input.owner;
  let tree = TreeDirs.open(codeDir, { create: { mode: 0o755, owner } });
  const tmpName = (name: string) => `${name}${TMP_INFIX}${process.pid}`;
  try {
    const keep = (dir: HeldDir, rel: string, name: string, localSha: string, remoteSha: string) => {
      // An earlier kept version may not have been looked at yet: never replace it.
      let suffix = CONFLICT_SUFFIX;
      for (let n = 2; dir.lstat(`${name}${suffix}`); n++) suffix = `${CONFLICT_SUFFIX}.${n}`;
      renameSync(dir.at(name), dir.at(`${name}${suffix}`));
      tree.forget(rel);
      result.conflicts.push({ path: rel, keptAs: `${rel}${suffix}`, localSha256: localSha, remoteSha256: remoteSha });
    };

    const put = async (e: ManifestEntry, rel: string) => {
      const [parentRel, name] = splitRel(rel);
      const kind = kindOf(e);
      const want = kind === 'file' ? e.sha256 : kind === 'link' ? e.symlinkTarget : '';
      const mode = entryMode(e, kind);
      const prev = synced[rel];
      // Unchanged locally since the last sync: whatever the instance did to it stays.
      if (input.localChangesOnly && prev && prev.kind === kind && prev.sha === want && prev.mode === mode) return;
      await tree.with(
        parentRel,
        async (dir) => {
          const st = lstatAt(dir, name);
          if (st) {
            const now = current(dir, name, st, prev);
            if (now.kind === kind && now.sha === want) {
              // Already as wanted (a re-apply, or the same edit on both sides).
              if (kind !== 'link' && (st.mode & 0o7777) !== mode) dir.chmod(name, mode);
              synced[rel] = record(st, kind, want, mode);
              return;
            }
            const changedHere = !prev || prev.kind !== now.kind || prev.sha !== now.sha;
            // A directory in the way is kept aside whole: it may hold files made on the instance. A file
            // or link we wrote is replaced by the rename below.
            if (changedHere || now.kind === 'dir' || now.kind === 'other') keep(dir, rel, name, want, now.kind === 'file' ? now.sha : '');
          }
          if (kind === 'dir') {
            const made = dir.ensureDir(name, mode, owner);
            try {
              synced[rel] = record(made.stat(), kind, want, mode);
            } finally {
              made.close();
            }
          } else if (kind === 'link') {
            const tmp = tmpName(name);
            unlinkIfThere(dir, tmp);
            symlinkSync(e.symlinkTarget, dir.at(tmp));
            if (owner) lchownSync(dir.at(tmp), owner.uid, owner.gid);
            const made = lstatSync(dir.at(tmp));
            renameSync(dir.at(tmp), dir.at(name));
            synced[rel] = record(made, kind, want, mode);
          } else {
            // Written aside and renamed into place: a reader on the instance sees the old or the new file,
            // never half of one. The create refuses whatever is at the temp name (a link is never
            // followed); a leftover there goes, and the create is tried once more.
            const tmp = tmpName(name);
            const data = input.inline?.get(e.sha256);
            const create = async () =>
              data ? writeData(data, dir, tmp, mode, owner) : await writeFromBlob(blobs.path(e.sha256), dir, tmp, mode, owner, e.size);
            let w: Written;
            try {
              w = await create();
            } catch (err) {
              if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
              unlinkIfThere(dir, tmp);
              w = await create();
            }
            if (data) renameSync(dir.at(tmp), dir.at(name));
            else await rename(dir.at(tmp), dir.at(name));
            synced[rel] = { kind, sha: want, mode, ...w };
          }
          result.written++;
        },
        rel,
      );
    };

    // Directories first, shallow before deep, one at a time; then links and files, many at once,
    // except those whose names another entry's work could touch (after the rest, one at a time).
    const entries = [...input.entries].sort((a, b) => {
      const da = a.directory ? 0 : 1;
      const db = b.directory ? 0 : 1;
      return da - db || a.path.split('/').length - b.path.split('/').length || (a.path < b.path ? -1 : 1);
    });
    const inManifest = new Set<string>();
    const dirs: [ManifestEntry, string][] = [];
    const many: [ManifestEntry, string][] = [];
    const tail: [ManifestEntry, string][] = [];
    for (const e of entries) {
      const rel = checkRelPath(e.path);
      inManifest.add(rel);
      (e.directory ? dirs : touchesOthers(splitRel(rel)[1]) ? tail : many).push([e, rel]);
    }
    for (const [e, rel] of dirs) await put(e, rel);
    await eachLimited(many, PARALLEL, ([e, rel]) => put(e, rel));
    for (const [e, rel] of tail) await put(e, rel);
    // Removals never make a folder: one that is gone (a removal took it along) stays gone.
    tree.close();
    tree = TreeDirs.open(codeDir);

    const remove = async (rel: string) => {
      const prev = synced[rel];
      delete synced[rel];
      const [parentRel, name] = splitRel(rel);
      let removedFile = false;
      try {
        await tree.with(parentRel, async (dir) => {
          const st = lstatAt(dir, name);
          if (!st) return;
          const now = current(dir, name, st, prev);
          if (now.kind === 'dir') {
            try {
              rmdirSync(dir.at(name)); // only when empty: files made on the instance inside stay
              tree.forget(rel);
              result.removed++;
            } catch {
              /* not empty */
            }
            return;
          }
          if (!prev || prev.kind !== now.kind || prev.sha !== now.sha) keep(dir, rel, name, '', now.kind === 'file' ? now.sha : '');
          else {
            unlinkSync(dir.at(name));
            result.removed++;
            removedFile = true;
          }
        });
      } catch (err) {
        // Its folder is gone, or is a link or a file now: nothing of ours to remove there.
        if (!['ENOENT', 'ENOTDIR', 'ELOOP'].includes((err as NodeJS.ErrnoException).code ?? '') && (err as Error).name !== 'PathError')
          throw err;
        return;
      }
      if (removedFile) removeEmptyParents(tree, parentRel);
    };

    const toRemove = input.full ? Object.keys(synced).filter((p) => !inManifest.has(p)) : input.removed.map((p) => checkRelPath(p));
    // Deepest first, so a directory is empty (of synced files) by the time its turn comes; the paths
    // of one depth are never under one another, so they go many at once (special names after them).
    const byDepth = new Map<number, string[]>();
    const removeTail: string[] = [];
    for (const rel of toRemove) {
      if (touchesOthers(splitRel(rel)[1])) removeTail.push(rel);
      else {
        const d = rel.split('/').length;
        const list = byDepth.get(d);
        if (list) list.push(rel);
        else byDepth.set(d, [rel]);
      }
    }
    for (const d of [...byDepth.keys()].sort((a, b) => b - a)) await eachLimited(byDepth.get(d)!.sort(), PARALLEL, remove);
    removeTail.sort((a, b) => b.split('/').length - a.split('/').length || (a < b ? 1 : -1));
    for (const rel of removeTail) await remove(rel);
  } finally {
    tree.close();
  }
  // Work done at once finishes in any order.
  result.conflicts.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return result;
}

function unlinkIfThere(dir: HeldDir, name: string): void {
  try {
    unlinkSync(dir.at(name));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** A folder left empty by a removal goes too (a folder deleted or renamed locally); one holding anything stays. */
function removeEmptyParents(tree: TreeDirs, relDir: string): void {
  while (relDir) {
    const [parentRel, name] = splitRel(relDir);
    try {
      tree.with(parentRel, (dir) => rmdirSync(dir.at(name)));
    } catch {
      return;
    }
    tree.forget(relDir);
    relDir = parentRel;
  }
}
