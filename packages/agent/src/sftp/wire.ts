// SFTP version 3 on a byte stream (draft-ietf-secsh-filexfer-02, as OpenSSH's sftp-server speaks
// it): the agent's own SFTP server runs in a process of its own, as the session's user, with the
// SSH channel's data on its stdin and stdout exactly as OpenSSH's sftp-server has it. This module
// parses requests into calls of a handler and frames the replies.

export const STATUS = {
  OK: 0,
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  BAD_MESSAGE: 5,
  OP_UNSUPPORTED: 8,
} as const;

export const OPEN = { READ: 0x01, WRITE: 0x02, APPEND: 0x04, CREAT: 0x08, TRUNC: 0x10, EXCL: 0x20 } as const;

const T = {
  INIT: 1,
  VERSION: 2,
  OPEN: 3,
  CLOSE: 4,
  READ: 5,
  WRITE: 6,
  LSTAT: 7,
  FSTAT: 8,
  SETSTAT: 9,
  FSETSTAT: 10,
  OPENDIR: 11,
  READDIR: 12,
  REMOVE: 13,
  MKDIR: 14,
  RMDIR: 15,
  REALPATH: 16,
  STAT: 17,
  RENAME: 18,
  READLINK: 19,
  SYMLINK: 20,
  STATUS: 101,
  HANDLE: 102,
  DATA: 103,
  NAME: 104,
  ATTRS: 105,
  EXTENDED: 200,
} as const;

const ATTR = { SIZE: 0x1, UIDGID: 0x2, PERMISSIONS: 0x4, ACMODTIME: 0x8, EXTENDED: 0x80000000 } as const;

/** OpenSSH's sftp-server refuses messages longer than this; so do we. */
export const MAX_MESSAGE = 256 * 1024 + 1024;

export interface Attrs {
  size?: number;
  uid?: number;
  gid?: number;
  mode?: number;
  atime?: number;
  mtime?: number;
}

export interface NameEntry {
  filename: string;
  longname: string;
  attrs: Attrs;
}

/** What a request gets back: one of the reply kinds. */
export type Reply =
  | { status: number; message?: string }
  | { handle: Buffer }
  | { data: Buffer }
  | { names: NameEntry[] }
  | { attrs: Attrs };

/** The requests, with their arguments as the protocol orders them. */
export interface Requests {
  open(path: string, pflags: number, attrs: Attrs): Promise<Reply>;
  close(handle: Buffer): Promise<Reply>;
  read(handle: Buffer, offset: number, length: number): Promise<Reply>;
  write(handle: Buffer, offset: number, data: Buffer): Promise<Reply>;
  lstat(path: string): Promise<Reply>;
  fstat(handle: Buffer): Promise<Reply>;
  setstat(path: string, attrs: Attrs): Promise<Reply>;
  fsetstat(handle: Buffer, attrs: Attrs): Promise<Reply>;
  opendir(path: string): Promise<Reply>;
  readdir(handle: Buffer): Promise<Reply>;
  remove(path: string): Promise<Reply>;
  mkdir(path: string, attrs: Attrs): Promise<Reply>;
  rmdir(path: string): Promise<Reply>;
  realpath(path: string): Promise<Reply>;
  stat(path: string): Promise<Reply>;
  rename(from: string, to: string): Promise<Reply>;
  readlink(path: string): Promise<Reply>;
  /** OpenSSH's order: the link's target first, then the link's own path (the draft has them the other way round). */
  symlink(target: string, linkPath: string): Promise<Reply>;
}

export class WireError extends Error {}

class Reader {
  private off = 0;
  constructor(private readonly buf: Buffer) {}
  u8(): number {
    this.need(1);
    return this.buf[this.off++];
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.off);
    this.off += 4;
    return v;
  }
  u64(): number {
    this.need(8);
    const v = this.buf.readBigUInt64BE(this.off);
    this.off += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new WireError('offset too large');
    return Number(v);
  }
  bytes(): Buffer {
    const n = this.u32();
    this.need(n);
    const v = this.buf.subarray(this.off, this.off + n);
    this.off += n;
    return v;
  }
  string(): string {
    return this.bytes().toString('utf8');
  }
  attrs(): Attrs {
    const flags = this.u32();
    const a: Attrs = {};
    if (flags & ATTR.SIZE) a.size = this.u64();
    if (flags & ATTR.UIDGID) {
      a.uid = this.u32();
      a.gid = this.u32();
    }
    if (flags & ATTR.PERMISSIONS) a.mode = this.u32();
    if (flags & ATTR.ACMODTIME) {
      a.atime = this.u32();
      a.mtime = this.u32();
    }
    if (flags & ATTR.EXTENDED) for (let n = this.u32(); n > 0; n--) this.bytes(), this.bytes();
    return a;
  }
  private need(n: number): void {
    if (this.off + n > this.buf.length) throw new WireError('message too short');
  }
}

class Writer {
  private parts: Buffer[] = [];
  u8(v: number): this {
    this.parts.push(Buffer.from([v]));
    return this;
  }
  u32(v: number): this {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32BE(v >>> 0);
    this.parts.push(b);
    return this;
  }
  u64(v: number): this {
    const b = Buffer.allocUnsafe(8);
    b.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(v))));
    this.parts.push(b);
    return this;
  }
  bytes(v: Buffer | string): this {
    const b = typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
    this.u32(b.length);
    this.parts.push(b);
    return this;
  }
  attrs(a: Attrs): this {
    let flags = 0;
    if (a.size !== undefined) flags |= ATTR.SIZE;
    if (a.uid !== undefined && a.gid !== undefined) flags |= ATTR.UIDGID;
    if (a.mode !== undefined) flags |= ATTR.PERMISSIONS;
    if (a.atime !== undefined && a.mtime !== undefined) flags |= ATTR.ACMODTIME;
    this.u32(flags);
    if (flags & ATTR.SIZE) this.u64(a.size!);
    if (flags & ATTR.UIDGID) this.u32(a.uid!).u32(a.gid!);
    if (flags & ATTR.PERMISSIONS) this.u32(a.mode!);
    if (flags & ATTR.ACMODTIME) this.u32(a.atime!).u32(a.mtime!);
    return this;
  }
  /** The whole packet, its length first. */
  packet(): Buffer {
    const body = Buffer.concat(this.parts);
    const len = Buffer.allocUnsafe(4);
    len.writeUInt32BE(body.length);
    return Buffer.concat([len, body]);
  }
}

function encodeReply(id: number, r: Reply): Buffer {
  const w = new Writer();
  if ('status' in r)
    w.u8(T.STATUS)
      .u32(id)
      .u32(r.status)
      .bytes(r.message ?? '')
      .bytes('');
  else if ('handle' in r) w.u8(T.HANDLE).u32(id).bytes(r.handle);
  else if ('data' in r) w.u8(T.DATA).u32(id).bytes(r.data);
  else if ('names' in r) {
    w.u8(T.NAME).u32(id).u32(r.names.length);
    for (const n of r.names) w.bytes(n.filename).bytes(n.longname).attrs(n.attrs);
  } else w.u8(T.ATTRS).u32(id).attrs(r.attrs);
  return w.packet();
}

/** Calls the handler for one request; undefined for a type it does not know. */
function dispatch(type: number, r: Reader, h: Requests): Promise<Reply> | undefined {
  switch (type) {
    case T.OPEN:
      return h.open(r.string(), r.u32(), r.attrs());
    case T.CLOSE:
      return h.close(r.bytes());
    case T.READ:
      return h.read(r.bytes(), r.u64(), r.u32());
    case T.WRITE:
      return h.write(r.bytes(), r.u64(), r.bytes());
    case T.LSTAT:
      return h.lstat(r.string());
    case T.FSTAT:
      return h.fstat(r.bytes());
    case T.SETSTAT:
      return h.setstat(r.string(), r.attrs());
    case T.FSETSTAT:
      return h.fsetstat(r.bytes(), r.attrs());
    case T.OPENDIR:
      return h.opendir(r.string());
    case T.READDIR:
      return h.readdir(r.bytes());
    case T.REMOVE:
      return h.remove(r.string());
    case T.MKDIR:
      return h.mkdir(r.string(), r.attrs());
    case T.RMDIR:
      return h.rmdir(r.string());
    case T.REALPATH:
      return h.realpath(r.string());
    case T.STAT:
      return h.stat(r.string());
    case T.RENAME:
      return h.rename(r.string(), r.string());
    case T.READLINK:
      return h.readlink(r.string());
    case T.SYMLINK:
      return h.symlink(r.string(), r.string());
    default:
      return undefined;
  }
}

/**
 * Serves SFTP v3 from `input` to `output`. Requests are handled one after another and answered in
 * order, as OpenSSH's sftp-server does (its client truncates an upload at the last in-order ack
 * when acks come back reordered). Resolves when the input ends; rejects on a malformed stream.
 */
export async function serveWire(input: AsyncIterable<Buffer>, output: (packet: Buffer) => Promise<void>, h: Requests): Promise<void> {
  let pending: Buffer = Buffer.alloc(0);
  let initialized = false;
  for await (const chunk of input) {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    while (pending.length >= 4) {
      const len = pending.readUInt32BE(0);
      if (len < 1 || len > MAX_MESSAGE) throw new WireError(`bad message length ${len}`);
      if (pending.length < 4 + len) break;
      // Copied: the handler may keep a buffer (a handle, write data) past this chunk.
      const msg = Buffer.from(pending.subarray(4, 4 + len));
      pending = pending.subarray(4 + len);
      const r = new Reader(msg);
      const type = r.u8();
      if (type === T.INIT) {
        initialized = true;
        await output(new Writer().u8(T.VERSION).u32(3).packet());
        continue;
      }
      if (!initialized) throw new WireError('a request before INIT');
      const id = r.u32();
      let reply: Reply;
      try {
        reply = (await dispatch(type, r, h)) ?? { status: STATUS.OP_UNSUPPORTED, message: 'Operation unsupported' };
      } catch (err) {
        if (err instanceof WireError) reply = { status: STATUS.BAD_MESSAGE, message: err.message };
        else throw err;
      }
      await output(encodeReply(id, reply));
    }
  }
}
