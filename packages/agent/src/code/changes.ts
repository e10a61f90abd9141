// Stop and resume with state: what changed in a job's code dir since the agent last wrote it, and the
// bytes of those files, for `dstack stop` (the listing) and `dstack sync NAME --pull` (the bytes).
//
// The code dir is the job's to write (the agent is root beside it): the tree is walked through held
// folders (safe-fs/), a file is read through a descriptor opened without following a link and never
// blocking on a FIFO, and a link is reported with its target, never followed.
import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, readSync, readlinkSync } from 'node:fs';
import type { CodeChange, CodeFileChunk } from '@dstack/core/gen/agent';
import type { HeldDir } from '../safe-fs/held-dir';
import { TreeDirs, checkRelPath, splitRel } from '../safe-fs/tree-dirs';
import type { SyncedTree } from './sync';
import { scanTree, type Seen } from './tree-commit';

const CHUNK = 1 << 20;

/** Names the upload never sends (git's own folder): not the user's edits. */
function leftOut(rel: string): boolean {
  return rel === '.git' || rel.startsWith('.git/') || rel.includes('.dstack-tmp-');
}

/** The sha256 of entry `name` of `dir`, never through a link; undefined when it is not a regular file. */
function hashAt(dir: HeldDir, name: string): string | undefined {
  let fd: number;
  try {
    fd = dir.open(name, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return undefined; // a link (O_NOFOLLOW), or gone
  }
  try {
    if (!fstatSync(fd).isFile()) return undefined;
    const hash = createHash('sha256');
    const buf = Buffer.allocUnsafe(CHUNK);
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) hash.update(buf.subarray(0, n));
    return hash.digest('hex');
  } finally {
    closeSync(fd);
  }
}

/**
 * Every path of `codeDir` whose kind or content differs from `synced` (what the agent last wrote):
 * edited and new files and links, files of other kinds (reported, never read), and synced paths that
 * are gone. Folders are walked, not reported (empty folders are not synced).
 */
export async function listCodeChanges(codeDir: string, synced: SyncedTree): Promise<CodeChange[]> {
  const seen = await scanTree(codeDir);
  const out: CodeChange[] = [];
  const tree = TreeDirs.open(codeDir);
  try {
    for (const [rel, st] of seen) {
      if (st.kind === 'dir' || leftOut(rel)) continue;
      const prev = synced[rel];
      const change = describe(tree, rel, st, prev);
      if (change) out.push(change);
    }
  } finally {
    tree.close();
  }
  for (const [rel, prev] of Object.entries(synced)) {
    if (prev.kind === 'dir' || seen.has(rel) || leftOut(rel)) continue;
    out.push({ path: rel, change: 'deleted', kind: '', sha256: '', symlinkTarget: '', size: 0, mode: 0, syncedSha256: prev.sha });
  }
  out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return out;
}

function describe(tree: TreeDirs, rel: string, st: Seen, prev: SyncedTree[string] | undefined): CodeChange | undefined {
  const base = { path: rel, change: prev ? 'modified' : 'added', size: st.size, mode: st.mode & 0o777, syncedSha256: prev?.sha ?? '' };
  const [parentRel, name] = splitRel(rel);
  if (st.kind === 'other') return { ...base, kind: 'other', sha256: '', symlinkTarget: '' };
  if (st.kind === 'link') {
    let target: string;
    try {
      target = tree.with(parentRel, (dir) => readlinkSync(dir.at(name)));
    } catch {
      return undefined; // gone since the scan
    }
    if (prev?.kind === 'link' && prev.sha === target) return undefined;
    return { ...base, kind: 'link', sha256: '', symlinkTarget: target };
  }
  // Unchanged by size, mtime and inode since the agent wrote it: not hashed (as live sync decides).
  if (prev?.kind === 'file' && prev.size === st.size && prev.mtimeMs === st.mtimeMs && prev.ino === st.ino) return undefined;
  let sha: string | undefined;
  try {
    sha = tree.with(parentRel, (dir) => hashAt(dir, name));
  } catch {
    return undefined; // its folder changed since the scan
  }
  if (sha === undefined) return { ...base, kind: 'other', sha256: '', symlinkTarget: '' };
  if (prev?.kind === 'file' && prev.sha === sha) return undefined;
  return { ...base, kind: 'file', sha256: sha, symlinkTarget: '' };
}

/**
 * The bytes of each path of `paths` under `codeDir`, chunk by chunk, each file's last chunk with the
 * sha256 of what was sent; a path that is not a regular file (a link, a folder, gone, a FIFO) comes
 * back as one chunk with `error`.
 */
export async function* readCodeFiles(codeDir: string, paths: readonly string[]): AsyncGenerator<CodeFileChunk> {
  const tree = TreeDirs.open(codeDir);
  const none = { data: Buffer.alloc(0), last: true, sha256: '', mode: 0 };
  try {
    for (const p of paths) {
      let rel: string;
      try {
        rel = checkRelPath(p);
      } catch (err) {
        yield { path: p, ...none, error: (err as Error).message };
        continue;
      }
      const [parentRel, name] = splitRel(rel);
      let fd: number;
      try {
        fd = tree.with(parentRel, (dir) => dir.open(name, constants.O_RDONLY | constants.O_NONBLOCK), rel);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        yield {
          path: rel,
          ...none,
          error:
            code === 'ELOOP'
              ? 'a link on the instance: not followed'
              : code === 'ENOENT'
                ? 'gone from the instance'
                : (err as Error).message,
        };
        continue;
      }
      try {
        const st = fstatSync(fd);
        if (!st.isFile()) {
          yield { path: rel, ...none, error: st.isDirectory() ? 'a folder on the instance' : 'not a regular file on the instance' };
          continue;
        }
        const hash = createHash('sha256');
        // One chunk behind, so the last one carries `last` and the hash.
        let pending = Buffer.alloc(0);
        let first = true;
        for (;;) {
          const buf = Buffer.allocUnsafe(CHUNK);
          const n = readSync(fd, buf, 0, CHUNK, null);
          if (n === 0) break;
          hash.update(buf.subarray(0, n));
          if (!first) yield { path: rel, data: pending, last: false, sha256: '', mode: 0, error: '' };
          pending = buf.subarray(0, n);
          first = false;
        }
        yield { path: rel, data: pending, last: true, sha256: hash.digest('hex'), mode: st.mode & 0o777, error: '' };
      } finally {
        closeSync(fd);
      }
    }
  } finally {
    tree.close();
  }
}
