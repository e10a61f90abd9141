// Writes one file of a tree from its blob. Small blobs are read and written through a file
// descriptor (open, write, fchmod, fstat): about a third of copyFile's cost here, which also
// truncates, fchmods to the source's mode and copies through copy_file_range. Large ones are copied
// by the kernel, so a big file never sits in the agent's memory. The explicit chmod sets the exact
// mode whatever the umask; the stat is the record synced.json keeps (a later rename keeps size,
// mtime and inode).
import { chmodSync, closeSync, copyFileSync, fchmodSync, fstatSync, lstatSync, openSync, readFileSync, statSync, writeSync, type Stats } from 'node:fs';
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

/** Writes `dest` (created, or truncated when it is there) with the blob's bytes and `mode`. */
export function writeFromBlobSync(blob: string, dest: string, mode: number): Written {
  if (statSync(blob).size > SMALL_BLOB) {
    copyFileSync(blob, dest);
    chmodSync(dest, mode);
    return fromStats(lstatSync(dest));
  }
  return writeDataSync(readFileSync(blob), dest, mode);
}

/** Writes `dest` (created, or truncated when it is there) with `data` and `mode`. */
export function writeDataSync(data: Buffer, dest: string, mode: number): Written {
  const fd = openSync(dest, 'w', mode);
  try {
    for (let off = 0; off < data.length; ) off += writeSync(fd, data, off);
    fchmodSync(fd, mode);
    return fromStats(fstatSync(fd));
  } finally {
    closeSync(fd);
  }
}

/** Like writeFromBlobSync, on the thread pool; `dest` must not exist. */
export async function writeFromBlob(blob: string, dest: string, mode: number): Promise<Written> {
  if ((await stat(blob)).size > SMALL_BLOB) {
    await copyFile(blob, dest, 1 /* COPYFILE_EXCL */);
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
