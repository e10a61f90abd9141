// Writes that never leave a half-written file where a reader looks: the data goes to a temp file
// beside the target, then a rename puts it in place (a reader sees the old file or the new one,
// never a mix). The daemon's state files and the agent's job files both go through here.
import { closeSync, fchmodSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export interface AtomicWriteOptions {
  /** The file's mode, set exactly (the umask does not narrow it). Default 0600. */
  mode?: number;
  /** fsync before the rename. false for files whose loss in a power cut costs only a retry. Default true. */
  durable?: boolean;
  /** Create the folder (0700) when it is missing. Default false. */
  mkdir?: boolean;
}

export function writeFileAtomic(path: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): void {
  const { mode = 0o600, durable = true, mkdir = false } = opts;
  if (mkdir) mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  // The pid keeps two processes writing the same file (two daemons racing at start) off each other's temp file.
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    const fd = openSync(tmp, 'w', mode);
    try {
      fchmodSync(fd, mode);
      writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
      if (durable) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** `value` as indented JSON with a final line break, written as writeFileAtomic writes. */
export function writeJsonAtomic(path: string, value: unknown, opts: AtomicWriteOptions = {}): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 1)}\n`, opts);
}
