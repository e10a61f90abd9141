// Paths from a manifest are untrusted: each must stay inside the work dir. Refused: absolute paths,
// ".." segments, NUL bytes, and paths that go through a symlink (a manifest could make `a` a link
// to /etc and then write `a/passwd`; so could a link made on the instance).
import { lstatSync } from 'node:fs';
import { join } from 'node:path';

export class PathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PathError';
  }
}

/** The path with "." and empty segments dropped; throws a PathError naming it when it escapes. */
export function checkRelPath(path: string): string {
  if (!path) throw new PathError('an empty path in the manifest');
  if (path.includes('\0')) throw new PathError(`path ${JSON.stringify(path)} contains a NUL byte`);
  if (path.startsWith('/')) throw new PathError(`path ${JSON.stringify(path)} escapes the work dir: it is absolute`);
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new PathError(`path ${JSON.stringify(path)} escapes the work dir: it contains ".."`);
  if (!parts.length) throw new PathError(`path ${JSON.stringify(path)} names the work dir itself`);
  return parts.join('/');
}

/**
 * The absolute path of `rel` under `root`, after checking that no existing parent is a symlink or
 * anything but a directory. The last component itself is never followed (callers lstat it).
 */
export function safeJoin(root: string, rel: string): string {
  const parts = checkRelPath(rel).split('/');
  let cur = root;
  for (let i = 0; i < parts.length - 1; i++) {
    cur = join(cur, parts[i]);
    let st;
    try {
      st = lstatSync(cur);
    } catch {
      break; // the rest does not exist yet: it will be made as directories
    }
    if (st.isSymbolicLink()) throw new PathError(`path ${JSON.stringify(rel)} escapes the work dir: ${JSON.stringify(parts.slice(0, i + 1).join('/'))} is a symlink`);
    if (!st.isDirectory()) throw new PathError(`path ${JSON.stringify(rel)}: ${JSON.stringify(parts.slice(0, i + 1).join('/'))} is a file on the instance, not a directory`);
  }
  return join(root, ...parts);
}
