// The folders of a tree the job can write (its code dir), reached from the tree's root one
// component at a time without following any link: a folder the job turned into a link (to /etc, to
// ../..) fails the lookup instead of leading out. Folders are held while a commit uses them and a
// few hundred stay open for the next entries of the same folder.
import { HeldDir, type Owner } from './held-dir';

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
  if (path.startsWith('/')) throw new PathError(`path ${JSON.stringify(path)} escapes the code dir: it is absolute`);
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new PathError(`path ${JSON.stringify(path)} escapes the code dir: it contains ".."`);
  if (!parts.length) throw new PathError(`path ${JSON.stringify(path)} names the code dir itself`);
  return parts.join('/');
}

/** "a/b/c" → ["a/b", "c"]; "c" → ["", "c"]. */
export function splitRel(rel: string): [string, string] {
  const i = rel.lastIndexOf('/');
  return i < 0 ? ['', rel] : [rel.slice(0, i), rel.slice(i + 1)];
}

export interface TreeDirsOptions {
  /** Make missing folders (with this mode and owner) instead of failing with ENOENT. */
  create?: { mode: number; owner?: Owner };
}

interface Slot {
  dir: HeldDir;
  refs: number;
  /** Forgotten (renamed or removed): closed once nobody holds it. */
  gone: boolean;
}

/** Unreferenced folders kept open beyond this are closed, oldest first. */
const KEEP_OPEN = 256;

export class TreeDirs {
  private readonly slots = new Map<string, Slot>();
  private readonly rootSlot: Slot;

  constructor(
    readonly root: HeldDir,
    private readonly opts: TreeDirsOptions = {},
  ) {
    this.rootSlot = { dir: root, refs: 1, gone: false };
  }

  /** Opens the tree at a path the agent owns. */
  static open(rootPath: string, opts?: TreeDirsOptions): TreeDirs {
    return new TreeDirs(HeldDir.open(rootPath), opts);
  }

  /**
   * Runs `fn` with the folder `relDir` ("" is the root) held. Throws a PathError naming `forPath`
   * when a component is a link or a file, ENOENT when one is missing (unless `create`).
   */
  with<T>(relDir: string, fn: (dir: HeldDir) => T, forPath = relDir): T {
    const slot = this.acquire(relDir, forPath);
    let async = false;
    try {
      const out = fn(slot.dir);
      if (out instanceof Promise) {
        async = true;
        return out.finally(() => this.release(slot)) as T;
      }
      return out;
    } finally {
      if (!async) this.release(slot);
    }
  }

  /** Forgets `relDir` and everything under it (it was renamed or removed): later lookups go to the disk again. */
  forget(relDir: string): void {
    const prefix = `${relDir}/`;
    for (const [rel, slot] of this.slots) {
      if (rel !== relDir && !rel.startsWith(prefix)) continue;
      this.slots.delete(rel);
      slot.gone = true;
      if (slot.refs <= 0) slot.dir.close();
    }
  }

  close(): void {
    for (const slot of this.slots.values()) slot.dir.close();
    this.slots.clear();
    this.root.close();
  }

  private acquire(relDir: string, forPath: string): Slot {
    if (!relDir) return this.rootSlot;
    let slot = this.slots.get(relDir);
    if (slot) {
      // Most recently used last: the oldest are closed first.
      this.slots.delete(relDir);
      this.slots.set(relDir, slot);
    } else {
      const [parentRel, name] = splitRel(relDir);
      const parent = this.acquire(parentRel, forPath);
      try {
        slot = { dir: this.openChild(parent.dir, name, relDir, forPath), refs: 0, gone: false };
      } finally {
        this.release(parent);
      }
      this.slots.set(relDir, slot);
    }
    slot.refs++;
    this.trim();
    return slot;
  }

  private release(slot: Slot): void {
    if (slot === this.rootSlot) return;
    slot.refs--;
    if (slot.gone && slot.refs <= 0) slot.dir.close();
    this.trim();
  }

  private trim(): void {
    if (this.slots.size <= KEEP_OPEN) return;
    for (const [rel, slot] of this.slots) {
      if (this.slots.size <= KEEP_OPEN) break;
      if (slot.refs > 0) continue;
      this.slots.delete(rel);
      slot.dir.close();
    }
  }

  private openChild(parent: HeldDir, name: string, relDir: string, forPath: string): HeldDir {
    try {
      return parent.openDir(name);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && this.opts.create) return parent.ensureDir(name, this.opts.create.mode, this.opts.create.owner);
      if (code !== 'ENOTDIR' && code !== 'ELOOP') throw err;
      const st = parent.lstat(name);
      if (st?.isSymbolicLink())
        throw new PathError(`path ${JSON.stringify(forPath)} escapes the code dir: ${JSON.stringify(relDir)} is a symlink`);
      if (st && !st.isDirectory())
        throw new PathError(`path ${JSON.stringify(forPath)}: ${JSON.stringify(relDir)} is a file on the instance, not a directory`);
      throw err;
    }
  }
}
