// Paths inside a target's own filesystem (a container's root through /proc/<pid>/root, or the
// host's "/"), resolved as the target would: links are followed, each against the target's root,
// and ".." never climbs above it. The walk holds a descriptor of every folder it passes
// (held-dir.ts), so a folder swapped for a link meanwhile cannot lead it onto the host's files: an
// absolute link target starts again at the held root, not at the agent's "/".
import { closeSync, constants, fstatSync, readFileSync, readlinkSync, type Stats } from 'node:fs';
import { posix } from 'node:path';
import type { HeldDir, Owner } from './held-dir';

const MAX_LINKS = 40;

/** Makes a client path absolute (relative ones start at home) and normalizes it lexically. */
export function absolute(path: string, home: string): string {
  const p = path === '' || path === '.' ? home : path.startsWith('/') ? path : posix.join(home, path);
  return posix.normalize(`/${p}`).replace(/(.)\/+$/, '$1');
}

export interface InRoot {
  /** The path as the target sees it (absolute, normalized, links followed). */
  virtual: string;
  /**
   * The folder holding the last component (the caller closes it), or undefined when a folder on
   * the way does not exist.
   */
  parent?: HeldDir;
  /** The last component; "" when the path is the root itself (then parent is the root, held again). */
  name: string;
}

function errno(code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

/**
 * Resolves `path` inside `root`. With followLast=false a link at the last component is left as it
 * is (lstat, readlink, remove, rename). Components that do not exist are kept as written, so a path
 * about to be created resolves too (its parent must exist for `parent` to be set).
 */
export function resolveInRoot(root: HeldDir, path: string, opts: { home?: string; followLast?: boolean } = {}): InRoot {
  const followLast = opts.followLast ?? true;
  const pending = absolute(path, opts.home ?? '/')
    .split('/')
    .filter(Boolean);
  const stack: HeldDir[] = [];
  const names: string[] = [];
  const top = () => stack[stack.length - 1] ?? root;
  const popDir = () => {
    stack.pop()?.close();
    names.pop();
  };
  let links = 0;
  try {
    while (pending.length) {
      const name = pending.shift()!;
      if (name === '.') continue;
      if (name === '..') {
        popDir();
        continue;
      }
      const last = pending.length === 0;
      const st = top().lstat(name);
      if (!st) {
        // Missing: the rest is taken lexically; only a missing last component leaves a parent.
        const rest = [name, ...pending];
        pending.length = 0;
        const lexical = [...names];
        for (const r of rest) {
          if (r === '..') lexical.pop();
          else if (r !== '.') lexical.push(r);
        }
        const virtual = `/${lexical.join('/')}`;
        if (rest.length === 1) return { virtual, parent: top() === root ? root.dup() : stack.pop()!, name };
        return { virtual, name: lexical[lexical.length - 1] ?? '' };
      }
      if (st.isSymbolicLink() && (!last || followLast)) {
        if (++links > MAX_LINKS) throw errno('ELOOP', `too many levels of symbolic links: ${path}`);
        const target = readlinkSync(top().at(name));
        if (target.startsWith('/')) while (stack.length) popDir();
        pending.unshift(...target.split('/').filter(Boolean));
        continue;
      }
      if (last) {
        names.push(name);
        return { virtual: `/${names.join('/')}`, parent: top() === root ? root.dup() : stack.pop()!, name };
      }
      if (!st.isDirectory()) throw errno('ENOTDIR', `not a directory: /${[...names, name].join('/')}`);
      let dir: HeldDir;
      try {
        dir = top().openDir(name);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        // Swapped for a link since the lstat: look again (and follow it, inside the root).
        if ((code === 'ENOTDIR' || code === 'ELOOP') && ++links <= MAX_LINKS) {
          pending.unshift(name);
          continue;
        }
        throw err;
      }
      stack.push(dir);
      names.push(name);
    }
    // The root itself.
    return { virtual: `/${names.join('/')}`, parent: stack.length ? stack.pop()! : root.dup(), name: '' };
  } finally {
    for (const d of stack) d.close();
  }
}

/**
 * The folder at `path` inside `root` (links followed inside it), held; the caller closes it.
 * ENOENT/ENOTDIR when it is missing or not a folder.
 */
export function openDirInRoot(root: HeldDir, path: string, home = '/'): { dir: HeldDir; virtual: string } {
  const r = resolveInRoot(root, path, { home });
  if (!r.parent) throw errno('ENOENT', `no such folder: ${r.virtual}`);
  if (!r.name) return { dir: r.parent, virtual: r.virtual };
  try {
    return { dir: r.parent.openDir(r.name), virtual: r.virtual };
  } finally {
    r.parent.close();
  }
}

/**
 * The folder at `path` inside `root`, made where missing (each new folder with `mode` and `owner`),
 * held; the caller closes it. Links on the way are followed inside the root.
 */
export function ensureDirInRoot(root: HeldDir, path: string, mode: number, owner: Owner, depth = 0): HeldDir {
  const r = resolveInRoot(root, path);
  if (!r.parent) {
    if (depth > MAX_LINKS) throw errno('ELOOP', `cannot make ${path}`);
    // A folder on the way is missing: make it first, then look again.
    ensureDirInRoot(root, posix.dirname(r.virtual), mode, owner, depth + 1).close();
    return ensureDirInRoot(root, path, mode, owner, depth + 1);
  }
  if (!r.name) return r.parent;
  try {
    return r.parent.ensureDir(r.name, mode, owner);
  } finally {
    r.parent.close();
  }
}

/**
 * A regular file inside `root` (links followed inside it), read through a descriptor: undefined
 * when it is missing, not a regular file (a FIFO would block), or larger than `maxBytes`.
 */
export function readFileInRoot(root: HeldDir, path: string, maxBytes = 16 << 20): { data: Buffer; stat: Stats } | undefined {
  const r = resolveInRoot(root, path);
  if (!r.parent || !r.name) {
    r.parent?.close();
    return undefined;
  }
  let fd: number;
  try {
    fd = r.parent.open(r.name, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return undefined;
  } finally {
    r.parent.close();
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile() || stat.size > maxBytes) return undefined;
    return { data: readFileSync(fd), stat };
  } finally {
    closeSync(fd);
  }
}

/** The lstat of `path` inside `root` (links followed inside it), or undefined when it is missing. */
export function statInRoot(root: HeldDir, path: string): Stats | undefined {
  const r = resolveInRoot(root, path);
  try {
    return r.parent && r.name ? r.parent.lstat(r.name) : r.parent?.stat();
  } finally {
    r.parent?.close();
  }
}
