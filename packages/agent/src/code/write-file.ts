// Writes one file of a tree from its blob, into a folder the job can write. The file is created
// with O_CREAT|O_EXCL|O_NOFOLLOW through the held folder (safe-fs/held-dir.ts), and everything after
// goes through that descriptor: the bytes, the mode (whatever the umask), the owner (the job's user,
// so no chown pass follows) and the stat that synced.json keeps. Small blobs are read into memory;
// large ones are copied by the kernel into /proc/self/fd/<fd>, which reopens the very file created,
// so a big file never sits in the agent's memory.
import { closeSync, constants, copyFileSync, fstatSync, openSync, readFileSync, statSync, writeSync, type Stats } from 'node:fs';
import { copyFile, open, readFile, stat } from 'node:fs/promises';
import { fdPath, setModeOwner, type HeldDir, type Owner } from '../safe-fs/held-dir';

/** Blobs up to this size are copied through the agent's memory. */
export const SMALL_BLOB = 1 << 20;

const CREATE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

export interface Written {
  size: number;
  mtimeMs: number;
  ino: number;
}

function fromStats(st: Stats): Written {
  return { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
}

/**
 * Creates entry `name` of `dir` with the blob's bytes, `mode` and `owner`. It must not exist: a link
 * planted at the name fails the write instead of being followed.
 */
export function writeFromBlobSync(blob: string, dir: HeldDir, name: string, mode: number, owner?: Owner): Written {
  if (statSync(blob).size <= SMALL_BLOB) return writeDataSync(readFileSync(blob), dir, name, mode, owner);
  const fd = openSync(dir.at(name), CREATE, mode);
  try {
    copyFileSync(blob, fdPath(fd));
    return finish(fd, mode, owner);
  } finally {
    closeSync(fd);
  }
}

/** Creates entry `name` of `dir` (which must not exist, as above) with `data`, `mode` and `owner`. */
export function writeDataSync(data: Buffer, dir: HeldDir, name: string, mode: number, owner?: Owner): Written {
  const fd = openSync(dir.at(name), CREATE, mode);
  try {
    for (let off = 0; off < data.length; ) off += writeSync(fd, data, off);
    return finish(fd, mode, owner);
  } finally {
    closeSync(fd);
  }
}

/** Mode and owner set through the descriptor; they leave size, mtime and inode as they are. */
function finish(fd: number, mode: number, owner: Owner | undefined): Written {
  const st = fstatSync(fd);
  setModeOwner(fd, st, mode, owner);
  return fromStats(st);
}

/**
 * Like writeFromBlobSync, on the thread pool; `name` must not exist either. `size`, where the
 * manifest gives it, only picks the way the bytes go (the blob's own bytes are written either way).
 */
export async function writeFromBlob(blob: string, dir: HeldDir, name: string, mode: number, owner?: Owner, size?: number): Promise<Written> {
  const small = (size ?? (await stat(blob)).size) <= SMALL_BLOB;
  const data = small ? await readFile(blob) : undefined;
  const fh = await open(dir.at(name), CREATE, mode);
  try {
    if (data) await fh.writeFile(data);
    else await copyFile(blob, fdPath(fh.fd));
    const st = await fh.stat();
    if (owner && (st.uid !== owner.uid || st.gid !== owner.gid)) await fh.chown(owner.uid, owner.gid);
    if ((st.mode & 0o7777) !== mode) await fh.chmod(mode);
    return fromStats(st);
  } finally {
    await fh.close();
  }
}
