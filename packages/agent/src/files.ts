// Small file helpers: JSON state files read back with a clear error (they are written with
// @dstack/core/atomic-write).
import { lchownSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export function readJson<T>(path: string): T {
  const text = readFileSync(path, 'utf8');
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new Error(`${path}: not valid JSON (${(err as Error).message})`);
  }
}

export function readJsonOr<T>(path: string, fallback: T): T {
  try {
    return readJson<T>(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return fallback;
    throw err;
  }
}

/** Gives a whole tree (links themselves, not their targets) to uid:gid. */
export function chownTree(dir: string, uid: number, gid: number): void {
  lchownSync(dir, uid, gid);
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) chownTree(p, uid, gid);
    else lchownSync(p, uid, gid);
  }
}
