// Writes one file of a tree from its blob. Small blobs are read and written through a file
// descriptor (open, write, fchmod, fstat): about a third of copyFile's cost here, which also
// truncates, fchmods to the source's mode and copies through copy_file_range. Large ones are copied
// by the kernel, so a big file never sits in the agent's memory. The explicit chmod sets the exact
// mode whatever the umask; the stat is the record synced.json keeps (a later rename keeps size,
// mtime and inode).
import { chmodSync, closeSync, constants, copyFileSync, fchmodSync, fstatSync, lstatSync, openSync, readFileSync, statSync, writeSync, type Stats } from 'node:fs';
import { chmod, copyFile, lstat, open, readFile, stat } from 'node:fs/promises';

/** Blobs up to this size are copied through the agent's memory. */
export const SMALL_BLOB = 1 << 20;

export interface Written {
  size: number;
  mtimeMs: number;
  ino: number;
}

function fromStats(st: Stats): Written {
  return { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
}

/**
 * Creates `dest` with the blob's bytes and `mode`. `dest` must not exist: it is in a folder the job
 * can write to, and a link planted there must fail the write, not be followed (O_EXCL).
 */
export function writeFromBlobSync(blob: string, dest: string, mode: number): Written {
  if (statSync(blob).size > SMALL_BLOB) {
    copyFileSync(blob, dest, constants.COPYFILE_EXCL);
    chmodSync(dest, mode);
    return fromStats(lstatSync(dest));
  }
  return writeDataSync(readFileSync(blob), dest, mode);
}

/** Creates `dest` (which must not exist, as above) with `data` and `mode`. */
export function writeDataSync(data: Buffer, dest: string, mode: number): Written {
  const fd = openSync(dest, 'wx', mode);
  try {
    for (let off = 0; off < data.length; ) off += writeSync(fd, data, off);
    fchmodSync(fd, mode);
    return fromStats(fstatSync(fd));
  } finally {
    closeSync(fd);
  }
}

/** Like writeFromBlobSync, on the thread pool; `dest` must not exist either. */
export async function writeFromBlob(blob: string, dest: string, mode: number): Promise<Written> {
  if ((await stat(blob)).size > SMALL_BLOB) {
    await copyFile(blob, dest, constants.COPYFILE_EXCL);
    await chmod(dest, mode);
    return fromStats(await lstat(dest));
  }
  const data = await readFile(blob);
  const fh = await open(dest, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.chmod(mode);
    return fromStats(await fh.stat());
  } finally {
    await fh.close();
  }
}
