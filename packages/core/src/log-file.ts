// Log files that rotate by size (daemon.log, the agent's agent.log): past `maxBytes`, FILE becomes
// FILE.1 (FILE.1 becomes FILE.2, ..., the oldest past `keep` is dropped) and writing goes on in a new
// FILE. Renames, not copy-and-truncate: every line lands whole in one file, none is lost in the
// switch (a writer still holding the old file writes on into FILE.1), and the switch is a few renames.
import { closeSync, fstatSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';

export interface LogRotation {
  /** A file is rotated before a write would take it past this many bytes. */
  maxBytes: number;
  /** Rotated files kept: FILE.1 (newest) to FILE.keep. */
  keep: number;
}

export const DEFAULT_LOG_ROTATION: LogRotation = { maxBytes: 10 * 1024 * 1024, keep: 3 };

function renameIfThere(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** FILE → FILE.1, FILE.1 → FILE.2, ...; FILE.keep is dropped (FILE itself when keep is 0). */
export function rotateLogFile(path: string, keep: number): void {
  if (keep < 1) {
    rmSync(path, { force: true });
    return;
  }
  rmSync(`${path}.${keep}`, { force: true });
  for (let i = keep - 1; i >= 1; i--) renameIfThere(`${path}.${i}`, `${path}.${i + 1}`);
  renameIfThere(path, `${path}.1`);
}

/** An append-only log file, written synchronously (a kill -9 loses nothing written), rotated by size. */
export class RotatingLogFile {
  private fd: number | null = null;
  private size = 0;
  private ino = 0;

  constructor(
    readonly path: string,
    private readonly rotation: LogRotation = DEFAULT_LOG_ROTATION,
    private readonly mode = 0o600,
  ) {}

  /** Appends whole lines; throws what the file system throws (the caller decides what a full disk means). */
  write(text: string): void {
    const data = Buffer.from(text);
    if (this.fd === null) this.open();
    if (this.size > 0 && this.size + data.length > this.rotation.maxBytes) this.rotate();
    writeSync(this.fd!, data);
    this.size += data.length;
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private open(): void {
    this.fd = openSync(this.path, 'a', this.mode);
    const st = fstatSync(this.fd);
    this.size = st.size;
    this.ino = st.ino;
  }

  private rotate(): void {
    // Another process on the same file (a second daemon that lost the race for the socket) may have
    // rotated it already: then the path names a new file, and reopening it is all there is to do.
    let current: { ino: number } | undefined;
    try {
      current = statSync(this.path);
    } catch {
      current = undefined;
    }
    if (current?.ino === this.ino) rotateLogFile(this.path, this.rotation.keep);
    this.close();
    this.open();
  }
}
