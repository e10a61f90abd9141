// A built-in SFTP server (protocol v3, ssh2's server side) over the target's filesystem, so sftp,
// scp (OpenSSH >= 9 speaks sftp underneath) and file managers work in images without sftp-server.
// Every path goes through resolveIn(), confined to the target's root.
import { constants, type Dir, type Stats } from 'node:fs';
import { chmod, chown, lchown, lstat, mkdir, open, opendir, readlink, rename, rmdir, stat, symlink, truncate, unlink, utimes, type FileHandle } from 'node:fs/promises';
import { posix } from 'node:path';
import ssh2, { type Attributes, type FileEntry, type SFTPWrapper } from 'ssh2';
import { resolveIn } from './confine';
import { agentUser, sessionUser } from './target-user';
import type { SessionTarget, TargetUser } from './target';

const { OPEN_MODE, STATUS_CODE } = ssh2.utils.sftp;
/** OpenSSH's sftp-server caps reads the same way. */
const MAX_READ = 256 * 1024;
const READDIR_BATCH = 128;

type Handle = { kind: 'file'; fh: FileHandle } | { kind: 'dir'; dir: Dir; path: string; hostPath: string; eof: boolean };

function statusOf(err: unknown): { code: number; message: string } {
  const e = err as NodeJS.ErrnoException;
  switch (e.code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return { code: STATUS_CODE.NO_SUCH_FILE, message: 'No such file' };
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return { code: STATUS_CODE.PERMISSION_DENIED, message: 'Permission denied' };
    default:
      return { code: STATUS_CODE.FAILURE, message: e.message ?? String(err) };
  }
}

export function attrsOf(st: Stats): Attributes {
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
  const read = pflags & OPEN_MODE.READ;
  const write = pflags & OPEN_MODE.WRITE;
  flags |= read && write ? constants.O_RDWR : write ? constants.O_WRONLY : constants.O_RDONLY;
  if (pflags & OPEN_MODE.APPEND) flags |= constants.O_APPEND;
  if (pflags & OPEN_MODE.CREAT) flags |= constants.O_CREAT;
  if (pflags & OPEN_MODE.TRUNC) flags |= constants.O_TRUNC;
  if (pflags & OPEN_MODE.EXCL) flags |= constants.O_EXCL;
  return flags;
}

interface SftpInternals {
  outgoing: { id: number; state: string };
  _protocol: { exitStatus(chan: number, status: number): void; channelEOF(chan: number): void };
}

/**
 * Ends the subsystem as sshd does when the client sends EOF: exit-status 0, EOF, close. ssh2 alone
 * only closes, and OpenSSH's client (scp in particular) then waits forever.
 */
export function finishSftp(sftp: SFTPWrapper): void {
  const ch = sftp as unknown as SftpInternals;
  if (ch.outgoing.state === 'open') {
    ch._protocol.exitStatus(ch.outgoing.id, 0);
    ch._protocol.channelEOF(ch.outgoing.id);
    ch.outgoing.state = 'eof';
  }
  sftp.end();
}

/**
 * Serves sftp on an accepted subsystem channel. Handlers are attached at once (ssh2 answers
 * "unsupported" to requests nobody listens for); they wait for the target's root and user.
 */
export function serveSftp(sftp: SFTPWrapper, target: SessionTarget, log: (line: string) => void): void {
  const ready = Promise.all([target.fsRoot(), sessionUser(target)]);
  new SftpSession(sftp, ready, log).listen();
}

class SftpSession {
  private readonly handles = new Map<number, Handle>();
  private nextHandle = 1;
  private root = '/';
  private user: TargetUser = { ...agentUser(), home: '/' };
  /** Files created for a user other than the agent's own are given to that user. */
  private chownTo: TargetUser | undefined;
  /** Requests run one after another, in arrival order. */
  private queue: Promise<unknown>;

  constructor(
    private readonly sftp: SFTPWrapper,
    ready: Promise<[string, TargetUser]>,
    private readonly log: (line: string) => void,
  ) {
    this.queue = ready.then(([root, user]) => {
      this.root = root;
      this.user = user;
      const me = agentUser();
      this.chownTo = user.uid !== me.uid || user.gid !== me.gid ? user : undefined;
    });
    this.queue.catch((err: Error) => {
      log(`sftp: ${err.message}`);
      finishSftp(sftp);
    });
  }

  private resolve(path: string, followLast = true) {
    return resolveIn(this.root, path, this.user.home, followLast);
  }

  private newHandle(h: Handle): Buffer {
    const id = this.nextHandle++;
    this.handles.set(id, h);
    const buf = Buffer.alloc(4);
    buf.writeUInt32BE(id);
    return buf;
  }

  private handle(buf: Buffer): Handle | undefined {
    return buf.length === 4 ? this.handles.get(buf.readUInt32BE()) : undefined;
  }

  private async giveAway(hostPath: string): Promise<void> {
    if (this.chownTo) await lchown(hostPath, this.chownTo.uid, this.chownTo.gid).catch(() => {});
  }

  /**
   * Runs one request; a thrown error becomes its status reply. Replies go out in request order, as
   * OpenSSH's sftp-server sends them: its client truncates an upload at the last in-order ack when
   * acks come back reordered. Buffers are copied, since ssh2 reuses the packet's memory.
   */
  private on(event: string, fn: (reqid: number, ...args: any[]) => Promise<void>): void {
    (this.sftp as unknown as NodeJS.EventEmitter).on(event, (reqid: number, ...args: unknown[]) => {
      const own = args.map((a) => (Buffer.isBuffer(a) ? Buffer.from(a) : a));
      this.queue = this.queue.then(() =>
        fn(reqid, ...own).catch((err) => {
          const { code, message } = statusOf(err);
          try {
            this.sftp.status(reqid, code, message);
          } catch (e) {
            this.log(`sftp: ${(e as Error).message}`);
          }
        }),
      );
    });
  }

  private ok(reqid: number): void {
    this.sftp.status(reqid, STATUS_CODE.OK);
  }

  private async setAttrs(hostPath: string, attrs: Attributes, fh?: FileHandle): Promise<void> {
    if (attrs.size !== undefined) await (fh ? fh.truncate(attrs.size) : truncate(hostPath, attrs.size));
    if (attrs.mode !== undefined) await (fh ? fh.chmod(attrs.mode & 0o7777) : chmod(hostPath, attrs.mode & 0o7777));
    if (attrs.uid !== undefined && attrs.gid !== undefined) await (fh ? fh.chown(attrs.uid, attrs.gid) : chown(hostPath, attrs.uid, attrs.gid));
    if (attrs.atime !== undefined && attrs.mtime !== undefined) {
      await (fh ? fh.utimes(attrs.atime, attrs.mtime) : utimes(hostPath, attrs.atime, attrs.mtime));
    }
  }

  listen(): void {
    const s = this.sftp;
    this.on('REALPATH', async (reqid, path: string) => {
      const { virtual } = await this.resolve(path);
      s.name(reqid, [{ filename: virtual, longname: virtual, attrs: {} as Attributes }]);
    });
    this.on('STAT', async (reqid, path: string) => s.attrs(reqid, attrsOf(await stat((await this.resolve(path)).host))));
    this.on('LSTAT', async (reqid, path: string) => s.attrs(reqid, attrsOf(await lstat((await this.resolve(path, false)).host))));
    this.on('OPEN', async (reqid, path: string, pflags: number, attrs: Attributes) => {
      const { host } = await this.resolve(path);
      const existed = await lstat(host).then(() => true, () => false);
      const fh = await open(host, openFlags(pflags), attrs.mode !== undefined ? attrs.mode & 0o7777 : 0o666);
      if (!existed) await this.giveAway(host);
      s.handle(reqid, this.newHandle({ kind: 'file', fh }));
    });
    this.on('READ', async (reqid, handle: Buffer, offset: number, length: number) => {
      const h = this.handle(handle);
      if (h?.kind !== 'file') return s.status(reqid, STATUS_CODE.FAILURE, 'Invalid handle');
      const buf = Buffer.allocUnsafe(Math.min(length, MAX_READ));
      const { bytesRead } = await h.fh.read(buf, 0, buf.length, offset);
      if (bytesRead === 0) s.status(reqid, STATUS_CODE.EOF);
      else s.data(reqid, buf.subarray(0, bytesRead));
    });
    this.on('WRITE', async (reqid, handle: Buffer, offset: number, data: Buffer) => {
      const h = this.handle(handle);
      if (h?.kind !== 'file') return s.status(reqid, STATUS_CODE.FAILURE, 'Invalid handle');
      let done = 0;
      while (done < data.length) done += (await h.fh.write(data, done, data.length - done, offset + done)).bytesWritten;
      this.ok(reqid);
    });
    this.on('FSTAT', async (reqid, handle: Buffer) => {
      const h = this.handle(handle);
      if (!h) return s.status(reqid, STATUS_CODE.FAILURE, 'Invalid handle');
      s.attrs(reqid, attrsOf(h.kind === 'file' ? await h.fh.stat() : await stat(h.hostPath)));
    });
    this.on('FSETSTAT', async (reqid, handle: Buffer, attrs: Attributes) => {
      const h = this.handle(handle);
      if (!h) return s.status(reqid, STATUS_CODE.FAILURE, 'Invalid handle');
      if (h.kind === 'file') await this.setAttrs('', attrs, h.fh);
      else await this.setAttrs(h.hostPath, attrs);
      this.ok(reqid);
    });
    this.on('SETSTAT', async (reqid, path: string, attrs: Attributes) => {
      await this.setAttrs((await this.resolve(path)).host, attrs);
      this.ok(reqid);
    });
    this.on('CLOSE', async (reqid, handle: Buffer) => {
      const h = this.handle(handle);
      if (!h) return s.status(reqid, STATUS_CODE.FAILURE, 'Invalid handle');
      this.handles.delete(handle.readUInt32BE());
      if (h.kind === 'file') await h.fh.close();
      else await h.dir.close().catch(() => {});
      this.ok(reqid);
    });
    this.on('OPENDIR', async (reqid, path: string) => {
      const { virtual, host } = await this.resolve(path);
      const dir = await opendir(host, { bufferSize: READDIR_BATCH });
      s.handle(reqid, this.newHandle({ kind: 'dir', dir, path: virtual, hostPath: host, eof: false }));
    });
    this.on('READDIR', async (reqid, handle: Buffer) => {
      const h = this.handle(handle);
      if (h?.kind !== 'dir') return s.status(reqid, STATUS_CODE.FAILURE, 'Invalid handle');
      const names: FileEntry[] = [];
      while (!h.eof && names.length < READDIR_BATCH) {
        const entry = await h.dir.read();
        if (!entry) {
          h.eof = true;
          break;
        }
        const st = await lstat(posix.join(h.hostPath, entry.name)).catch(() => undefined);
        if (st) names.push({ filename: entry.name, longname: longname(entry.name, st), attrs: attrsOf(st) as FileEntry['attrs'] });
      }
      if (names.length) s.name(reqid, names);
      else s.status(reqid, STATUS_CODE.EOF);
    });
    this.on('MKDIR', async (reqid, path: string, attrs: Attributes) => {
      const { host } = await this.resolve(path, false);
      await mkdir(host, attrs.mode !== undefined ? attrs.mode & 0o7777 : 0o777);
      await this.giveAway(host);
      this.ok(reqid);
    });
    this.on('RMDIR', async (reqid, path: string) => {
      await rmdir((await this.resolve(path, false)).host);
      this.ok(reqid);
    });
    this.on('REMOVE', async (reqid, path: string) => {
      await unlink((await this.resolve(path, false)).host);
      this.ok(reqid);
    });
    this.on('RENAME', async (reqid, from: string, to: string) => {
      await rename((await this.resolve(from, false)).host, (await this.resolve(to, false)).host);
      this.ok(reqid);
    });
    this.on('READLINK', async (reqid, path: string) => {
      const target = await readlink((await this.resolve(path, false)).host);
      s.name(reqid, [{ filename: target, longname: target, attrs: {} as Attributes }]);
    });
    // ssh2 hands OpenSSH's swapped arguments back in protocol order: (link path, target).
    this.on('SYMLINK', async (reqid, linkPath: string, targetPath: string) => {
      const { host } = await this.resolve(linkPath, false);
      await symlink(targetPath, host);
      await this.giveAway(host);
      this.ok(reqid);
    });
    s.on('end', () => finishSftp(s));
    s.on('close', () => {
      for (const h of this.handles.values()) {
        if (h.kind === 'file') void h.fh.close().catch(() => {});
        else void h.dir.close().catch(() => {});
      }
      this.handles.clear();
    });
  }
}
