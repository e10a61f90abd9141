// The agent's own SFTP server, for targets without an sftp-server of their own (sftp, scp since
// OpenSSH 9, and file managers need one). It runs in a process of its own that has already become
// the session's user (sftp/helper.ts): the kernel checks every permission. Paths resolve inside the
// target's root from held folders (safe-fs/in-root.ts), so links in the image and ".." stay inside
// it. chown is refused (a user may not give files away), and so are setuid and setgid bits.
import { closeSync, constants, fstat, ftruncate, futimes, fchmod, openSync, read, write, type Dir, type Stats } from 'node:fs';
import { chmod, lstat, mkdir, opendir, readlink, rename, rmdir, stat, symlink, truncate, unlink, utimes } from 'node:fs/promises';
import { promisify } from 'node:util';
import { type HeldDir, O_PATH, fdPath } from '../safe-fs/held-dir';
import { resolveInRoot, type InRoot } from '../safe-fs/in-root';
import { OPEN, STATUS, type Attrs, type NameEntry, type Reply, type Requests } from './wire';

/** OpenSSH's sftp-server caps reads the same way. */
const MAX_READ = 256 * 1024;
const READDIR_BATCH = 128;
/** Open handles per session (each holds a descriptor). */
const MAX_HANDLES = 512;
/** Mode bits a client may set: permissions and sticky, never setuid or setgid. */
const SETTABLE = 0o1777;

type Handle = { kind: 'file'; fd: number } | { kind: 'dir'; dir: HeldDir; it: Dir; virtual: string; eof: boolean };

const fstatFd = promisify(fstat);
const readFd = promisify(read);
const writeFd = promisify(write);
const truncateFd = promisify(ftruncate);
const chmodFd = promisify(fchmod);
const utimesFd = promisify(futimes);

export function statusOf(err: unknown): Reply {
  switch ((err as NodeJS.ErrnoException).code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return { status: STATUS.NO_SUCH_FILE, message: 'No such file' };
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return { status: STATUS.PERMISSION_DENIED, message: 'Permission denied' };
    default:
      return { status: STATUS.FAILURE, message: (err as Error).message ?? String(err) };
  }
}

export function attrsOf(st: Stats): Attrs {
  return {
    mode: st.mode,
    uid: st.uid,
    gid: st.gid,
    size: st.size,
    atime: Math.floor(st.atimeMs / 1000),
    mtime: Math.floor(st.mtimeMs / 1000),
  };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function typeChar(st: Stats): string {
  if (st.isDirectory()) return 'd';
  if (st.isSymbolicLink()) return 'l';
  if (st.isCharacterDevice()) return 'c';
  if (st.isBlockDevice()) return 'b';
  if (st.isFIFO()) return 'p';
  if (st.isSocket()) return 's';
  return '-';
}

/** An `ls -l` line, which OpenSSH's sftp shows for `ls -l`. */
export function longname(name: string, st: Stats): string {
  const bits = 'rwxrwxrwx'.split('').map((c, i) => (st.mode & (0o400 >> i) ? c : '-'));
  if (st.mode & 0o4000) bits[2] = bits[2] === 'x' ? 's' : 'S';
  if (st.mode & 0o2000) bits[5] = bits[5] === 'x' ? 's' : 'S';
  if (st.mode & 0o1000) bits[8] = bits[8] === 'x' ? 't' : 'T';
  const d = st.mtime;
  const recent = Math.abs(Date.now() - d.getTime()) < 182 * 24 * 3600 * 1000;
  const when = `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2)} ${
    recent ? `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}` : ` ${d.getFullYear()}`
  }`;
  return `${typeChar(st)}${bits.join('')} ${String(st.nlink).padStart(4)} ${String(st.uid).padEnd(8)} ${String(st.gid).padEnd(8)} ${String(st.size).padStart(8)} ${when} ${name}`;
}

function openFlags(pflags: number): number {
  let flags = constants.O_NOFOLLOW;
  const rd = pflags & OPEN.READ;
  const wr = pflags & OPEN.WRITE;
  flags |= rd && wr ? constants.O_RDWR : wr ? constants.O_WRONLY : constants.O_RDONLY;
  if (pflags & OPEN.APPEND) flags |= constants.O_APPEND;
  if (pflags & OPEN.CREAT) flags |= constants.O_CREAT;
  if (pflags & OPEN.TRUNC) flags |= constants.O_TRUNC;
  if (pflags & OPEN.EXCL) flags |= constants.O_EXCL;
  return flags;
}

const OK: Reply = { status: STATUS.OK };
const BAD_HANDLE: Reply = { status: STATUS.FAILURE, message: 'Invalid handle' };

function refused(message: string): Reply {
  return { status: STATUS.PERMISSION_DENIED, message };
}

/** A client may not give a file away, nor set setuid or setgid bits. */
function forbidden(attrs: Attrs, st?: Stats): Reply | undefined {
  if (attrs.uid !== undefined && attrs.gid !== undefined && (!st || attrs.uid !== st.uid || attrs.gid !== st.gid))
    return refused('chown is not allowed');
  if (attrs.mode !== undefined && attrs.mode & 0o6000) return refused('setuid and setgid bits are not allowed');
  return undefined;
}

export class SftpServer implements Requests {
  private readonly handles = new Map<number, Handle>();
  private nextHandle = 1;

  constructor(
    private readonly root: HeldDir,
    private readonly home: string,
  ) {}

  /** Runs a request; an error becomes its status reply. */
  private async guard(fn: () => Promise<Reply>): Promise<Reply> {
    try {
      return await fn();
    } catch (err) {
      return statusOf(err);
    }
  }

  /**
   * Resolves `path` inside the root and runs `fn` with the folder holding its last component
   * (`name` "" for the folder itself); ENOENT when a folder on the way is missing.
   */
  private async at<T>(path: string, followLast: boolean, fn: (r: Required<InRoot>) => Promise<T>): Promise<T> {
    const r = resolveInRoot(this.root, path, { home: this.home, followLast });
    if (!r.parent) throw Object.assign(new Error('No such file'), { code: 'ENOENT' });
    try {
      return await fn(r as Required<InRoot>);
    } finally {
      r.parent.close();
    }
  }

  /** The path of the entry for Node's path-based calls: the held folder itself when name is "". */
  private static entry(r: Required<InRoot>): string {
    return r.name ? r.parent.at(r.name) : r.parent.path;
  }

  private newHandle(h: Handle): Reply {
    const id = this.nextHandle++;
    this.handles.set(id, h);
    const buf = Buffer.alloc(4);
    buf.writeUInt32BE(id);
    return { handle: buf };
  }

  private handle(buf: Buffer): Handle | undefined {
    return buf.length === 4 ? this.handles.get(buf.readUInt32BE()) : undefined;
  }

  private tooMany(): Reply | undefined {
    return this.handles.size >= MAX_HANDLES ? { status: STATUS.FAILURE, message: `more than ${MAX_HANDLES} open handles` } : undefined;
  }

  /** Sets attributes of the file `path` names, through an O_PATH descriptor of the file itself. */
  private async setAttrsAt(path: string, attrs: Attrs): Promise<Reply> {
    const fd = openSync(path, O_PATH | constants.O_NOFOLLOW);
    try {
      const st = await fstatFd(fd);
      const no = forbidden(attrs, st);
      if (no) return no;
      const self = fdPath(fd);
      if (st.isSymbolicLink()) throw Object.assign(new Error('a symbolic link has no attributes to set'), { code: 'EOPNOTSUPP' });
      if (attrs.size !== undefined) await truncate(self, attrs.size);
      if (attrs.mode !== undefined) await chmod(self, attrs.mode & SETTABLE);
      if (attrs.atime !== undefined && attrs.mtime !== undefined) await utimes(self, attrs.atime, attrs.mtime);
      return OK;
    } finally {
      closeSync(fd);
    }
  }

  realpath = (path: string) =>
    this.guard(async () => {
      const r = resolveInRoot(this.root, path, { home: this.home });
      r.parent?.close();
      return { names: [{ filename: r.virtual, longname: r.virtual, attrs: {} }] };
    });

  stat = (path: string) => this.guard(() => this.at(path, true, async (r) => ({ attrs: attrsOf(await stat(SftpServer.entry(r))) })));

  lstat = (path: string) => this.guard(() => this.at(path, false, async (r) => ({ attrs: attrsOf(await lstat(SftpServer.entry(r))) })));

  open = (path: string, pflags: number, attrs: Attrs) =>
    this.guard(async () => {
      const busy = this.tooMany();
      if (busy) return busy;
      if (attrs.mode !== undefined && attrs.mode & 0o6000) return refused('setuid and setgid bits are not allowed');
      return this.at(path, true, async (r) => {
        if (!r.name) throw Object.assign(new Error('Is a directory'), { code: 'EISDIR' });
        const fd = r.parent.open(r.name, openFlags(pflags), attrs.mode !== undefined ? attrs.mode & 0o777 : 0o666);
        return this.newHandle({ kind: 'file', fd });
      });
    });

  read = (handle: Buffer, offset: number, length: number) =>
    this.guard(async () => {
      const h = this.handle(handle);
      if (h?.kind !== 'file') return BAD_HANDLE;
      const buf = Buffer.allocUnsafe(Math.min(length, MAX_READ));
      const { bytesRead } = await readFd(h.fd, buf, 0, buf.length, offset);
      return bytesRead === 0 ? { status: STATUS.EOF, message: 'EOF' } : { data: buf.subarray(0, bytesRead) };
    });

  write = (handle: Buffer, offset: number, data: Buffer) =>
    this.guard(async () => {
      const h = this.handle(handle);
      if (h?.kind !== 'file') return BAD_HANDLE;
      for (let done = 0; done < data.length; ) done += (await writeFd(h.fd, data, done, data.length - done, offset + done)).bytesWritten;
      return OK;
    });

  fstat = (handle: Buffer) =>
    this.guard(async () => {
      const h = this.handle(handle);
      if (!h) return BAD_HANDLE;
      return { attrs: attrsOf(h.kind === 'file' ? await fstatFd(h.fd) : h.dir.stat()) };
    });

  fsetstat = (handle: Buffer, attrs: Attrs) =>
    this.guard(async () => {
      const h = this.handle(handle);
      if (!h) return BAD_HANDLE;
      if (h.kind === 'dir') return this.setAttrsAt(h.dir.path, attrs);
      const st = await fstatFd(h.fd);
      const no = forbidden(attrs, st);
      if (no) return no;
      if (attrs.size !== undefined) await truncateFd(h.fd, attrs.size);
      if (attrs.mode !== undefined) await chmodFd(h.fd, attrs.mode & SETTABLE);
      if (attrs.atime !== undefined && attrs.mtime !== undefined) await utimesFd(h.fd, attrs.atime, attrs.mtime);
      return OK;
    });

  setstat = (path: string, attrs: Attrs) => this.guard(() => this.at(path, true, async (r) => this.setAttrsAt(SftpServer.entry(r), attrs)));

  close = (handle: Buffer) =>
    this.guard(async () => {
      const h = this.handle(handle);
      if (!h) return BAD_HANDLE;
      this.handles.delete(handle.readUInt32BE());
      this.release(h);
      return OK;
    });

  opendir = (path: string) =>
    this.guard(async () => {
      const busy = this.tooMany();
      if (busy) return busy;
      return this.at(path, true, async (r) => {
        const dir = r.name ? r.parent.openDir(r.name) : r.parent.dup();
        try {
          const it = await opendir(dir.path, { bufferSize: READDIR_BATCH });
          const virtual = resolveInRoot(this.root, path, { home: this.home });
          virtual.parent?.close();
          return this.newHandle({ kind: 'dir', dir, it, virtual: virtual.virtual, eof: false });
        } catch (err) {
          dir.close();
          throw err;
        }
      });
    });

  readdir = (handle: Buffer) =>
    this.guard(async () => {
      const h = this.handle(handle);
      if (h?.kind !== 'dir') return BAD_HANDLE;
      const names: NameEntry[] = [];
      while (!h.eof && names.length < READDIR_BATCH) {
        const entry = await h.it.read();
        if (!entry) {
          h.eof = true;
          break;
        }
        const st = h.dir.lstat(entry.name);
        if (st) names.push({ filename: entry.name, longname: longname(entry.name, st), attrs: attrsOf(st) });
      }
      return names.length ? { names } : { status: STATUS.EOF, message: 'EOF' };
    });

  mkdir = (path: string, attrs: Attrs) =>
    this.guard(async () => {
      if (attrs.mode !== undefined && attrs.mode & 0o6000) return refused('setuid and setgid bits are not allowed');
      return this.at(path, false, async (r) => {
        await mkdir(SftpServer.entry(r), attrs.mode !== undefined ? attrs.mode & SETTABLE : 0o777);
        return OK;
      });
    });

  rmdir = (path: string) => this.guard(() => this.at(path, false, async (r) => (await rmdir(SftpServer.entry(r)), OK)));

  remove = (path: string) => this.guard(() => this.at(path, false, async (r) => (await unlink(SftpServer.entry(r)), OK)));

  rename = (from: string, to: string) =>
    this.guard(() =>
      this.at(from, false, (a) => this.at(to, false, async (b) => (await rename(SftpServer.entry(a), SftpServer.entry(b)), OK))),
    );

  readlink = (path: string) =>
    this.guard(() =>
      this.at(path, false, async (r) => {
        const target = await readlink(SftpServer.entry(r));
        return { names: [{ filename: target, longname: target, attrs: {} }] };
      }),
    );

  symlink = (target: string, linkPath: string) =>
    this.guard(() => this.at(linkPath, false, async (r) => (await symlink(target, SftpServer.entry(r)), OK)));

  private release(h: Handle): void {
    if (h.kind === 'file') closeSync(h.fd);
    else {
      void h.it.close().catch(() => {});
      h.dir.close();
    }
  }

  /** Closes every handle (the session ended). */
  closeAll(): void {
    for (const h of this.handles.values()) this.release(h);
    this.handles.clear();
  }
}
