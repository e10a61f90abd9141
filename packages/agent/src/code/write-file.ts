// Writes one file of a tree from its blob, into a folder the job can write. The file is created
// with O_CREAT|O_EXCL|O_NOFOLLOW through the held folder (safe-fs/held-dir.ts), and everything after
// goes through that descriptor: the bytes, the mode (whatever the umask), the owner (the job's user,
// so no chown pass follows) and the stat that synced.json keeps. Small blobs are read into memory;
// large ones are copied by the kernel into /proc/self/fd/<fd>, which reopens the very file created,
// so a big file never sits in the agent's memory.
import { copyFile, open, readFile, stat } from 'node:fs/promises';
import { closeSync, constants, fchmodSync, fchownSync, fstatSync, openSync, writeFileSync } from 'node:fs';
import { fdPath, type HeldDir, type Owner } from '../safe-fs/held-dir';

/** Blobs up to this size are copied through the agent's memory. */
export const SMALL_BLOB = 1 << 20;

const CREATE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

export interface Written {
  size: number;
  mtimeMs: number;
  ino: number;
}

/**
 * Creates entry `name` of `dir` with the blob's bytes, `mode` and `owner`, on the thread pool. It
 * must not exist: a link planted at the name fails the write instead of being followed. `size`,
 * where the manifest gives it, only picks the way the bytes go (the blob's own bytes are written
 * either way).
 */
export async function writeFromBlob(
  blob: string,
  dir: HeldDir,
  name: string,
  mode: number,
  owner?: Owner,
  size?: number,
): Promise<Written> {
  const small = (size ?? (await stat(blob)).size) <= SMALL_BLOB;
  return write(small ? await readFile(blob) : blob, dir, name, mode, owner);
}

/**
 * Creates entry `name` of `dir` (which must not exist, as above) with `data`, `mode` and `owner`, in
 * the calling thread: for the small files a live-sync batch carries inline, each syscall through the
 * thread pool costs more than the syscall itself. The caller yields to the event loop between files.
 */
export function writeData(data: Buffer, dir: HeldDir, name: string, mode: number, owner?: Owner): Written {
  const fd = openSync(dir.at(name), CREATE, mode);
  try {
    writeFileSync(fd, data);
    const st = fstatSync(fd);
    if (owner && (st.uid !== owner.uid || st.gid !== owner.gid)) fchownSync(fd, owner.uid, owner.gid);
    if ((st.mode & 0o7777) !== mode) fchmodSync(fd, mode);
    return { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
  } finally {
    closeSync(fd);
  }
}

/** Bytes from memory, or copied by the kernel from the blob at a path. */
async function write(from: Buffer | string, dir: HeldDir, name: string, mode: number, owner?: Owner): Promise<Written> {
  const fh = await open(dir.at(name), CREATE, mode);
  try {
    if (typeof from !== 'string') await fh.writeFile(from);
    else await copyFile(from, fdPath(fh.fd));
    // Mode and owner set through the descriptor; they leave size, mtime and inode as they are.
    const st = await fh.stat();
    if (owner && (st.uid !== owner.uid || st.gid !== owner.gid)) await fh.chown(owner.uid, owner.gid);
    if ((st.mode & 0o7777) !== mode) await fh.chmod(mode);
    return { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
  } finally {
    await fh.close();
  }
}
