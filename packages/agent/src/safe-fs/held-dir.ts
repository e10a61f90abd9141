// File work in a tree that someone else can write (a job's /workflow, a container's root), done
// from held directory descriptors instead of by path. Node has no openat(): every call here names
// a file as `/proc/self/fd/<dir fd>/<one name>`, so the kernel starts the lookup at the directory
// the descriptor holds (the magic link is never re-resolved by name) and looks up one component,
// which each call treats as its own: mkdir, unlink, rename, symlink, lstat, readlink and lchown
// never follow a link there, and opens add O_NOFOLLOW. A folder swapped for a link between two
// calls is therefore never followed: the next descriptor is opened with O_NOFOLLOW|O_DIRECTORY
// and fails instead. This is openat(2) semantics without native code on every arch.
import {
  chmodSync,
  chownSync,
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  type Stats,
} from 'node:fs';

/** Linux's O_PATH (the same value on x86_64 and arm64): a descriptor that only names a file. */
export const O_PATH = 0o10000000;
const DIR_FLAGS = O_PATH | constants.O_DIRECTORY | constants.O_NOFOLLOW;

/** A path for Node's path-based calls that names exactly the file `fd` holds (any kind, links too). */
export function fdPath(fd: number): string {
  return `/proc/self/fd/${fd}`;
}

/** One component of a path: refused if it could mean anything but an entry of its folder. */
export function checkName(name: string): string {
  if (!name || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    throw Object.assign(new Error(`not a single file name: ${JSON.stringify(name)}`), { code: 'EINVAL' });
  }
  return name;
}

function errno(code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${message}`), { code });
}

export class HeldDir {
  private closed = false;

  private constructor(
    readonly fd: number,
    /** What the descriptor was opened as (messages only). */
    readonly label: string,
  ) {}

  /**
   * Opens a folder by a path the agent trusts: one of its own, or /proc/<pid>/root. Links in it are
   * followed (it is ours); everything below is reached through the descriptor.
   */
  static open(trustedPath: string): HeldDir {
    return new HeldDir(openSync(trustedPath, O_PATH | constants.O_DIRECTORY), trustedPath);
  }

  /** A folder descriptor this process was handed (an inherited one). */
  static fromFd(fd: number, label: string): HeldDir {
    if (!fstatSync(fd).isDirectory()) throw errno('ENOTDIR', `${label}: descriptor ${fd} is not a folder`);
    return new HeldDir(fd, label);
  }

  /** The same folder, held again (closed separately). */
  dup(): HeldDir {
    return new HeldDir(openSync(fdPath(this.fd), O_PATH | constants.O_DIRECTORY), this.label);
  }

  /** The path of entry `name` of this folder, for Node's path-based calls (see the header). */
  at(name: string): string {
    if (this.closed) throw errno('EBADF', `${this.label}: used after close`);
    return `${fdPath(this.fd)}/${checkName(name)}`;
  }

  /** The folder itself, for readdir and the like. */
  get path(): string {
    if (this.closed) throw errno('EBADF', `${this.label}: used after close`);
    return fdPath(this.fd);
  }

  /** Entry `name` as a held folder; ENOTDIR when it is a link or not a folder. */
  openDir(name: string): HeldDir {
    const fd = openSync(this.at(name), DIR_FLAGS);
    return new HeldDir(fd, `${this.label}/${name}`);
  }

  /** Opens entry `name` (never through a link) with `flags`; the caller closes the descriptor. */
  open(name: string, flags: number, mode = 0o600): number {
    return openSync(this.at(name), flags | constants.O_NOFOLLOW, mode);
  }

  /** lstat of entry `name`, or undefined when there is none. */
  lstat(name: string): Stats | undefined {
    return lstatSync(this.at(name), { throwIfNoEntry: false });
  }

  /**
   * Sets the mode of entry `name` through a descriptor of the entry itself (its magic link names
   * that file, whatever happens to the name meanwhile); a link is left alone (Linux links have no mode).
   */
  chmod(name: string, mode: number): void {
    const fd = openSync(this.at(name), O_PATH | constants.O_NOFOLLOW);
    try {
      if (!fstatSync(fd).isSymbolicLink()) chmodSync(fdPath(fd), mode);
    } finally {
      closeSync(fd);
    }
  }

  /** The folder's own stat. */
  stat(): Stats {
    return fstatSync(this.fd);
  }

  /** Entry `name` as a held folder, made (mode, then owner) when missing. */
  ensureDir(name: string, mode = 0o755, owner?: Owner): HeldDir {
    try {
      mkdirSync(this.at(name), mode);
      const made = this.openDir(name);
      settle(made, mode, owner);
      return made;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      return this.openDir(name);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}

export interface Owner {
  uid: number;
  gid: number;
}

/**
 * Sets a folder's mode and owner where they differ. Through its descriptor's magic link (which
 * names the folder itself, never a link): fchmod and fchown refuse O_PATH descriptors, and opening
 * the folder for reading would need a permission its owner may have taken away.
 */
export function settle(dir: HeldDir, mode: number | undefined, owner?: Owner): void {
  const st = dir.stat();
  if (owner && (st.uid !== owner.uid || st.gid !== owner.gid)) chownSync(dir.path, owner.uid, owner.gid);
  if (mode !== undefined && (st.mode & 0o7777) !== mode) chmodSync(dir.path, mode);
}

/** fchown/fchmod of an open file where they differ from `st` (modes here never carry setuid bits, which a chown would clear). */
export function setModeOwner(fd: number, st: Stats, mode: number | undefined, owner: Owner | undefined): void {
  if (owner && (st.uid !== owner.uid || st.gid !== owner.gid)) fchownSync(fd, owner.uid, owner.gid);
  if (mode !== undefined && (st.mode & 0o7777) !== mode) fchmodSync(fd, mode);
}
