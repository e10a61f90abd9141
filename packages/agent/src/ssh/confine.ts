// Path resolution inside a target's filesystem as seen from the agent's host. A container's files
// are reached through /proc/<pid>/root; a symlink in there ("/etc/x -> /") means the container's
// root, not the host's, so symlinks are followed by hand, each one against the target's root.
// (A process in the container could still swap a directory for a symlink between our check and
// the use; the final component is opened with O_NOFOLLOW, which closes the common case.)
import { lstat, readlink } from 'node:fs/promises';
import { posix } from 'node:path';

const MAX_LINKS = 40;

export interface ResolvedPath {
  /** The path as the target sees it (absolute, normalized, symlinks followed). */
  virtual: string;
  /** The same file as a path on the agent's host. */
  host: string;
}

export function hostPath(root: string, virtual: string): string {
  return root === '/' ? virtual : posix.join(root, virtual);
}

/** Makes a client path absolute (relative ones start at home) and normalizes it lexically. */
export function absolute(path: string, home: string): string {
  const p = path === '' || path === '.' ? home : path.startsWith('/') ? path : posix.join(home, path);
  return posix.normalize(`/${p}`).replace(/(.)\/+$/, '$1');
}

/**
 * Resolves `path` inside `root`. With followLast=false the last component is left as it is (lstat,
 * readlink, remove, rename, symlink). Components that do not exist are kept as written, so a path
 * to a file about to be created resolves too.
 */
export async function resolveIn(root: string, path: string, home: string, followLast = true): Promise<ResolvedPath> {
  const pending = absolute(path, home).split('/').filter(Boolean);
  const done: string[] = [];
  let links = 0;
  while (pending.length) {
    const name = pending.shift()!;
    if (name === '.') continue;
    if (name === '..') {
      done.pop();
      continue;
    }
    const candidate = [...done, name];
    if (!followLast && pending.length === 0) {
      done.push(name);
      break;
    }
    let target: string | undefined;
    try {
      const st = await lstat(hostPath(root, `/${candidate.join('/')}`));
      if (st.isSymbolicLink()) target = await readlink(hostPath(root, `/${candidate.join('/')}`));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && (err as NodeJS.ErrnoException).code !== 'ENOTDIR') throw err;
      // Missing: the rest is taken as written (lexically), nothing further to follow.
      done.push(name);
      for (const rest of pending) {
        if (rest === '..') done.pop();
        else if (rest !== '.') done.push(rest);
      }
      break;
    }
    if (target === undefined) {
      done.push(name);
      continue;
    }
    if (++links > MAX_LINKS) throw Object.assign(new Error(`too many levels of symbolic links: ${path}`), { code: 'ELOOP' });
    if (target.startsWith('/')) done.length = 0;
    pending.unshift(...target.split('/').filter(Boolean));
  }
  const virtual = `/${done.join('/')}`;
  return { virtual, host: hostPath(root, virtual) };
}
