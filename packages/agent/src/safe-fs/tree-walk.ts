// Whole-tree work inside a tree the job can write: removal and ownership, each folder entered
// through a descriptor opened with O_NOFOLLOW (held-dir.ts), so a folder swapped for a link during
// the walk is never entered. Node's rm -r and a chown -R by path would follow such a swap.
import { lchown, readdir, rmdir, unlink } from 'node:fs/promises';
import type { HeldDir, Owner } from './held-dir';

/** Removal retries a folder the job keeps filling this many times before giving up. */
const REMOVE_TRIES = 5;

function code(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

/**
 * Removes entry `name` of `parent` and, when it is a folder, everything in it (missing: nothing to
 * do), on the thread pool: big trees never stall other jobs' SSH sessions.
 */
export async function removeEntry(parent: HeldDir, name: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await unlink(parent.at(name));
      return;
    } catch (err) {
      if (code(err) === 'ENOENT') return;
      if (code(err) !== 'EISDIR' && code(err) !== 'EPERM') throw err;
    }
    let dir: HeldDir;
    try {
      dir = parent.openDir(name);
    } catch (err) {
      if (code(err) === 'ENOENT') return;
      if ((code(err) === 'ENOTDIR' || code(err) === 'ELOOP') && attempt < REMOVE_TRIES) continue;
      throw err;
    }
    try {
      for (const entry of await readdir(dir.path)) await removeEntry(dir, entry);
    } finally {
      dir.close();
    }
    try {
      await rmdir(parent.at(name));
      return;
    } catch (err) {
      if (code(err) === 'ENOENT') return;
      if (code(err) !== 'ENOTEMPTY' && code(err) !== 'ENOTDIR') throw err;
      if (attempt >= REMOVE_TRIES) throw err;
    }
  }
}

/**
 * Gives everything under `dir` (links themselves, not their targets) to `owner`; `dir` itself is
 * the caller's. Entries that vanish meanwhile are skipped.
 */
export async function chownTree(dir: HeldDir, owner: Owner): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir.path, { withFileTypes: true });
  } catch (err) {
    if (code(err) === 'ENOENT') return;
    throw err;
  }
  for (const e of entries) {
    try {
      await lchown(dir.at(e.name), owner.uid, owner.gid);
    } catch (err) {
      if (code(err) === 'ENOENT') continue;
      throw err;
    }
    if (!e.isDirectory()) continue;
    let sub: HeldDir;
    try {
      sub = dir.openDir(e.name);
    } catch (err) {
      if (code(err) === 'ENOENT' || code(err) === 'ENOTDIR' || code(err) === 'ELOOP') continue; // gone, or swapped for a link: not entered
      throw err;
    }
    try {
      await chownTree(sub, owner);
    } finally {
      sub.close();
    }
  }
}
