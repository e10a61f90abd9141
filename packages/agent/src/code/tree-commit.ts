// A new job's first commit: make its code dir exactly the manifest's tree. The dir is empty, or it is
// the tree a previous job of the same repo left (code/tree-cache.ts), adopted by a rename. Either
// way the result is the same bytes, modes and paths as a fresh write:
//  - a file or link whose kind, content, size, mtime, inode and link count are what we last wrote
//    (synced.json's record) stays; its mode and owner are set again where they drifted;
//  - anything else the manifest names is written from its blob (an edit made on the instance in the
//    old job is lost: a new job starts from the repo as it is locally);
//  - whatever the manifest does not name goes, files the old job created included.
// This is not live sync: nothing is kept as `.remote-conflict` (no one has seen this tree in this
// job yet; the job waits for its code before it starts).
//
// Cost: one readdir per folder and one lstat per path (done ahead, while the daemon lists the repo,
// when the tree was adopted); a write is one read of the blob and one write of the file
// (code/write-file.ts), a bounded number at a time so the agent's event loop (other jobs' SSH
// sessions) never stalls. Creating files is the slow part on most disks, which is why a kept tree
// helps so much.
// A file edited in the old job is told apart by size, mtime, inode and link count; an edit that
// keeps the size and lands within the clock tick of our write, or puts the old mtime back to the
// nanosecond, would go unseen (as for live sync's own record).
//
// The old tree was the old job's to write, and the new job's container may already run beside this
// commit: every step goes through held folders (safe-fs/), so a folder swapped for a link is never
// followed. Files are created as the job's user when it is known (no chown pass after).
import { mkdirSync, readdirSync } from 'node:fs';
import { lchown, lstat, symlink, unlink } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { ManifestEntry } from '@dstack/core/gen/agent';
import type { BlobStore } from './blobs';
import { HeldDir, settle, type Owner } from '../safe-fs/held-dir';
import { TreeDirs, checkRelPath, splitRel } from '../safe-fs/tree-dirs';
import { removeEntry } from '../safe-fs/tree-walk';
import { writeFromBlob } from './write-file';
import { eachLimited, entryMode, kindOf, type CommitResult, type Kind, type SyncedTree } from './sync';

/** Folders the manifest implies (parents of its entries) get this mode, as a fresh mkdir would. */
const IMPLIED_DIR_MODE = 0o755;
/** Writes in flight at once. */
const PARALLEL = 16;

export interface ExactCommitResult extends CommitResult {
  /** Files and links of an adopted tree that were already as the manifest wants them. */
  unchanged: number;
}

/** One path of a tree as found on disk (links not followed). */
export interface Seen {
  kind: Kind | 'other';
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtimeMs: number;
  ino: number;
  nlink: number;
}

/** Every path under a code dir, a folder before what it holds. */
export type TreeScan = Map<string, Seen>;

/**
 * Walks `codeDir` and lstats everything in it, entering folders through held descriptors. A kept
 * tree is scanned as soon as a job adopts it, while the daemon is still listing the repo, so the
 * commit finds the work done; `yieldEvery` lstats it lets the event loop run (other jobs' SSH
 * sessions).
 */
export async function scanTree(codeDir: string, yieldEvery = 1000): Promise<TreeScan> {
  const seen: TreeScan = new Map();
  let n = 0;
  const walk = async (dir: HeldDir, relDir: string) => {
    for (const name of readdirSync(dir.path)) {
      const rel = relDir ? `${relDir}/${name}` : name;
      const st = dir.lstat(name);
      if (!st) continue;
      const kind: Seen['kind'] = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'link' : st.isFile() ? 'file' : 'other';
      seen.set(rel, {
        kind,
        mode: st.mode & 0o7777,
        uid: st.uid,
        gid: st.gid,
        size: st.size,
        mtimeMs: st.mtimeMs,
        ino: st.ino,
        nlink: st.nlink,
      });
      if (++n % yieldEvery === 0) await new Promise((r) => setImmediate(r));
      if (kind !== 'dir') continue;
      let sub: HeldDir;
      try {
        sub = dir.openDir(name);
      } catch {
        seen.set(rel, { ...seen.get(rel)!, kind: 'other' }); // swapped since the lstat: removed by the commit
        continue;
      }
      try {
        await walk(sub, rel);
      } finally {
        sub.close();
      }
    }
  };
  let root: HeldDir;
  try {
    root = HeldDir.open(resolve(codeDir));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return seen;
    throw err;
  }
  try {
    await walk(root, '');
  } finally {
    root.close();
  }
  return seen;
}

/**
 * Makes `codeDir` exactly the tree of `entries` (a full manifest, already validated). `synced` is
 * the record of what was last written into this tree (empty for a new one); it is replaced by the
 * record of this commit, path for path. `scan` is what scanTree() found in it, if that ran ahead
 * (nothing may have touched the tree since). `owner` is who the tree belongs to (the job's user;
 * the agent's own when absent).
 */
export async function commitExact(
  codeDir: string,
  blobs: BlobStore,
  synced: SyncedTree,
  entries: ManifestEntry[],
  scan?: Promise<TreeScan> | TreeScan,
  owner?: Owner,
): Promise<ExactCommitResult> {
  codeDir = resolve(codeDir);
  const result: ExactCommitResult = { written: 0, removed: 0, conflicts: [], unchanged: 0 };
  const me = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
  const own = owner ?? me;

  const want = new Map<string, ManifestEntry>();
  // Every folder the tree needs, with its mode: named ones as named, parents as a mkdir makes them.
  const dirs = new Map<string, number>();
  for (const e of entries) {
    const rel = checkRelPath(e.path);
    want.set(rel, e);
    // Parents, deepest first, up to one already known.
    for (let i = rel.lastIndexOf('/'); i > 0; ) {
      const p = rel.slice(0, i);
      if (dirs.has(p)) break;
      dirs.set(p, IMPLIED_DIR_MODE);
      i = p.lastIndexOf('/');
    }
    if (e.directory) dirs.set(rel, entryMode(e, 'dir'));
  }
  for (const [rel, e] of want)
    if (!e.directory && dirs.has(rel)) throw new Error(`manifest entry ${JSON.stringify(e.path)} is a file, and a folder of other entries`);

  // The root, as Job.create makes it (an old job's user may have owned it).
  mkdirSync(codeDir, { recursive: true });
  const tree = TreeDirs.open(codeDir);
  try {
    settle(tree.root, IMPLIED_DIR_MODE, own);

    // What the tree holds now: anything the manifest does not want there goes. Links are never
    // followed, so once this pass is done no folder on a wanted path is a link.
    const found = await (scan ?? scanTree(codeDir, Infinity));
    const present = new Map<string, Seen>();
    let gone = '';
    for (const [rel, f] of found) {
      if (gone && rel.startsWith(gone)) continue; // under a folder removed whole
      const e = want.get(rel);
      const keepIt = f.kind === 'dir' ? dirs.has(rel) : !!e && !e.directory && f.kind === (e.symlinkTarget ? 'link' : 'file');
      if (keepIt) {
        present.set(rel, f);
        continue;
      }
      const [parentRel, name] = splitRel(rel);
      await tree.with(parentRel, (dir) => removeEntry(dir, name), rel);
      if (f.kind === 'dir' || f.kind === 'other') {
        tree.forget(rel);
        gone = `${rel}/`;
      }
      result.removed++;
    }

    // Folders, shallow before deep, with their modes and the owner.
    const next: SyncedTree = {};
    for (const rel of [...dirs.keys()].sort((a, b) => a.split('/').length - b.split('/').length || (a < b ? -1 : 1))) {
      const mode = dirs.get(rel)!;
      const [parentRel, name] = splitRel(rel);
      const f = present.get(rel);
      const st = tree.with(
        parentRel,
        (dir) => {
          const sub = f ? dir.openDir(name) : dir.ensureDir(name, mode, own);
          try {
            if (f) settle(sub, mode, own);
            return sub.stat();
          } finally {
            sub.close();
          }
        },
        rel,
      );
      if (!f && want.get(rel)?.directory) result.written++;
      if (want.get(rel)?.directory) next[rel] = { kind: 'dir', sha: '', mode, size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
    }

    // Files and links: keep what is provably ours and unchanged, write the rest.
    const writes: [string, ManifestEntry][] = [];
    for (const [rel, e] of want) {
      if (e.directory) continue;
      const kind = kindOf(e);
      const sha = kind === 'file' ? e.sha256 : e.symlinkTarget;
      const mode = entryMode(e, kind);
      const prev = synced[rel];
      const st = present.get(rel);
      if (st && prev && prev.kind === kind && prev.sha === sha) {
        // A second link to the inode (made in the old job) could change it behind our back.
        if (st.size === prev.size && st.mtimeMs === prev.mtimeMs && st.ino === prev.ino && (kind === 'link' || st.nlink === 1)) {
          const [parentRel, name] = splitRel(rel);
          // A chmod or chown leaves size, mtime and inode as they are.
          await tree.with(parentRel, async (dir) => {
            if (kind === 'file' && st.mode !== mode) dir.chmod(name, mode);
            if (st.uid !== own.uid || st.gid !== own.gid) await lchown(dir.at(name), own.uid, own.gid);
          });
          next[rel] = { kind, sha, mode, size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
          result.unchanged++;
          continue;
        }
      }
      writes.push([rel, e]);
    }
    const chown = owner && (owner.uid !== me.uid || owner.gid !== me.gid) ? owner : undefined;
    // Folder by folder, so each folder is looked up once while it stays among the held ones.
    const parentOf = (rel: string) => rel.slice(0, Math.max(0, rel.lastIndexOf('/')));
    writes.sort(([a], [b]) => {
      const pa = parentOf(a);
      const pb = parentOf(b);
      return pa < pb ? -1 : pa > pb ? 1 : 0;
    });
    await eachLimited(writes, PARALLEL, async ([rel, e]) => {
      const [parentRel, name] = splitRel(rel);
      const kind = kindOf(e);
      const mode = entryMode(e, kind);
      const st = await tree.with(
        parentRel,
        async (dir) => {
          if (present.has(rel)) await unlink(dir.at(name));
          if (kind === 'file') return writeFromBlob(blobs.path(e.sha256), dir, name, mode, chown, e.size);
          await symlink(e.symlinkTarget, dir.at(name));
          if (chown) await lchown(dir.at(name), chown.uid, chown.gid);
          return lstat(dir.at(name));
        },
        rel,
      );
      next[rel] = { kind, sha: kind === 'file' ? e.sha256 : e.symlinkTarget, mode, size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
      result.written++;
    });

    for (const k of Object.keys(synced)) delete synced[k];
    Object.assign(synced, next);
    return result;
  } finally {
    tree.close();
  }
}
