// sha256 of the repo's files, cached in SQLite by path and checked against (size, mtime, inode):
// a re-apply of a large repo rehashes only the files that changed since the last one.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { sha256File } from '@dstack/core/hash';
import type { Db } from '../state/db';
import type { RepoFile } from './repo-files';

export interface HashedFile extends RepoFile {
  /** Empty for symlinks. */
  sha256: string;
  /** The bytes that were hashed, kept for the upload (small files hashed in this call, up to KEEP_TOTAL). */
  data?: Buffer;
}

/** Files up to this size are hashed from one read whose bytes are kept, so the upload need not read them again. */
export const KEEP_FILE_MAX = 1024 * 1024;
/** At most this much kept per hash() call; past it, files are hashed as a stream and read again to send. */
const KEEP_TOTAL = 64 * 1024 * 1024;

function commonDir(paths: string[]): string {
  let prefix = paths[0];
  for (const p of paths) {
    while (!p.startsWith(prefix)) prefix = prefix.slice(0, prefix.lastIndexOf('/', prefix.length - 2) + 1);
  }
  return prefix.slice(0, prefix.lastIndexOf('/') + 1);
}

interface Row {
  path: string;
  size: number;
  mtime_ns: string;
  ino: number;
  sha256: string;
}

export class HashCache {
  constructor(private readonly db: Db | null) {}

  /** Hashes the files (symlinks get no hash), reusing cached hashes of unchanged ones; keeps the bytes of small rehashed ones. */
  async hash(files: RepoFile[], { concurrency = 8, keepTotal = KEEP_TOTAL } = {}): Promise<{ files: HashedFile[]; rehashed: number }> {
    const cached = new Map<string, Row>();
    if (this.db && files.length) {
      // One range query over the common folder of the files, not one query per file.
      const prefix = commonDir(files.map((f) => f.abs));
      const rows = this.db.prepare('SELECT * FROM file_hashes WHERE path >= ? AND path < ?').all(prefix, `${prefix}\u{10ffff}`) as Row[];
      for (const r of rows) cached.set(r.path, r);
    }
    const out: HashedFile[] = new Array(files.length);
    const fresh: HashedFile[] = [];
    let next = 0;
    let kept = 0;
    const worker = async () => {
      while (next < files.length) {
        const i = next++;
        const f = files[i];
        if (f.symlinkTarget !== undefined) {
          out[i] = { ...f, sha256: '' };
          continue;
        }
        const c = cached.get(f.abs);
        if (c && c.size === f.size && c.mtime_ns === String(f.mtimeNs) && c.ino === f.ino) {
          out[i] = { ...f, sha256: c.sha256 };
          continue;
        }
        if (f.size <= KEEP_FILE_MAX && kept + f.size <= keepTotal) {
          kept += f.size;
          const data = await readFile(f.abs);
          // The hash is of exactly these bytes, so what is sent always matches the manifest's sha256.
          out[i] = { ...f, sha256: createHash('sha256').update(data).digest('hex'), data };
        } else out[i] = { ...f, sha256: await sha256File(f.abs) };
        fresh.push(out[i]);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, files.length)) }, worker));
    // Rows of files under the same folder that are gone now: the cache does not grow forever.
    const seen = new Set(files.map((f) => f.abs));
    const stale = [...cached.keys()].filter((p) => !seen.has(p));
    if (this.db && (fresh.length || stale.length)) {
      const drop = this.db.prepare('DELETE FROM file_hashes WHERE path = ?');
      const put = this.db.prepare(
        'INSERT INTO file_hashes (path, size, mtime_ns, ino, sha256) VALUES (?, ?, ?, ?, ?) ' +
          'ON CONFLICT(path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, ino = excluded.ino, sha256 = excluded.sha256',
      );
      this.db.transaction(() => {
        for (const f of fresh) put.run(f.abs, f.size, String(f.mtimeNs), f.ino, f.sha256);
        for (const p of stale) drop.run(p);
      })();
    }
    return { files: out, rehashed: fresh.length };
  }
}
