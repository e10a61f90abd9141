// Code dirs of removed jobs, kept for the next job of the same repo: a re-apply after one edit then
// starts from the old tree (a rename) and its first commit rewrites only what differs
// (code/tree-commit.ts), instead of creating every file again.
//
// Bounded: one tree per repo id (a newer one replaces it), none older than the TTL, and none at all
// while the disk is short of space. Layout under trees/: <key>/tree (the code dir) and <key>/meta.json
// (the repo id, when it was kept, and the synced.json record of what was last written into it).
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmdirSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomic } from '@dstack/core/atomic-write';
import { readJsonOr } from '../files';
import { logger } from '../logger';
import { HeldDir } from '../safe-fs/held-dir';
import { removeEntry } from '../safe-fs/tree-walk';
import type { SyncedTree } from './sync';

export interface TreeCacheOptions {
  /** A kept tree older than this is deleted. */
  ttlMs: number;
  /** Below this many free bytes on the data dir's disk, nothing is kept (and what is, goes). */
  minFreeBytes: number;
  /** ... or below this fraction of the disk free. */
  minFreeFraction: number;
}

export const DEFAULT_TREE_CACHE: TreeCacheOptions = { ttlMs: 12 * 3600_000, minFreeBytes: 2 * 1024 ** 3, minFreeFraction: 0.05 };

interface Meta {
  repoId: string;
  keptMs: number;
  jobId: string;
  synced: SyncedTree;
}

export class TreeCache {
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly dir: string,
    private readonly opts: TreeCacheOptions = DEFAULT_TREE_CACHE,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const name of readdirSync(dir)) if (name.startsWith('.trash-')) this.discard(join(dir, name));
    this.sweep();
    this.timer = setInterval(() => this.sweep(), 10 * 60_000);
    this.timer.unref();
  }

  private slot(repoId: string): string {
    return join(this.dir, createHash('sha256').update(repoId).digest('hex').slice(0, 32));
  }

  /** Deletes a folder in the background (a big tree takes a while): renamed aside first. */
  private discard(path: string): void {
    let target = path;
    if (!path.split('/').pop()!.startsWith('.trash-')) {
      target = join(this.dir, `.trash-${randomBytes(6).toString('hex')}`);
      try {
        renameSync(path, target);
      } catch {
        target = path;
      }
    }
    // A kept tree was a job's to write: removed through held folders, never following a link.
    const name = target.slice(this.dir.length + 1);
    let dir: HeldDir | undefined;
    Promise.resolve()
      .then(() => removeEntry((dir = HeldDir.open(this.dir)), name))
      .catch((err) => logger.warn(`tree cache: cannot delete ${target}: ${(err as Error).message}`))
      .finally(() => dir?.close());
  }

  private lowOnDisk(): boolean {
    try {
      const s = statfsSync(this.dir);
      const free = s.bavail * s.bsize;
      return free < this.opts.minFreeBytes || free < s.blocks * s.bsize * this.opts.minFreeFraction;
    } catch {
      return false;
    }
  }

  /** Drops trees past their TTL, and every tree while the disk is short of space. */
  sweep(): void {
    const low = this.lowOnDisk();
    for (const name of existsSync(this.dir) ? readdirSync(this.dir) : []) {
      if (name.startsWith('.trash-')) continue;
      const meta = readJsonOr<Meta | undefined>(join(this.dir, name, 'meta.json'), undefined);
      if (low || !meta || Date.now() - meta.keptMs > this.opts.ttlMs) {
        logger.info(`tree cache: dropping ${meta ? `the tree of repo ${meta.repoId}` : name}${low ? ' (low on disk)' : ''}`);
        this.discard(join(this.dir, name));
      }
    }
  }

  /**
   * Keeps `codeDir` (moved, not copied) as the tree of `repoId`, with the record of what was written
   * into it. Returns false when it was not kept (low on disk, or the move failed): the caller's
   * removal then deletes it as before.
   */
  keep(repoId: string, jobId: string, codeDir: string, synced: SyncedTree): boolean {
    if (!repoId || !existsSync(codeDir)) return false;
    this.sweep();
    if (this.lowOnDisk()) return false;
    const slot = this.slot(repoId);
    try {
      if (existsSync(slot)) this.discard(slot);
      mkdirSync(slot, { mode: 0o700 });
      renameSync(codeDir, join(slot, 'tree'));
      writeJsonAtomic(join(slot, 'meta.json'), { repoId, keptMs: Date.now(), jobId, synced } satisfies Meta);
      return true;
    } catch (err) {
      logger.warn(`tree cache: cannot keep the tree of job ${jobId}: ${(err as Error).message}`);
      if (existsSync(slot)) this.discard(slot);
      return false;
    }
  }

  /**
   * Moves the kept tree of `repoId` to `codeDir` (an empty folder, replaced) and returns its record,
   * or undefined when there is none. A tree is adopted once.
   */
  adopt(repoId: string, codeDir: string): { synced: SyncedTree; jobId: string } | undefined {
    if (!repoId) return undefined;
    const slot = this.slot(repoId);
    const meta = readJsonOr<Meta | undefined>(join(slot, 'meta.json'), undefined);
    if (!meta || meta.repoId !== repoId || !existsSync(join(slot, 'tree'))) return undefined;
    try {
      rmdirSync(codeDir);
      renameSync(join(slot, 'tree'), codeDir);
    } catch (err) {
      logger.warn(`tree cache: cannot adopt the tree of repo ${repoId}: ${(err as Error).message}`);
      mkdirSync(codeDir, { recursive: true, mode: 0o755 });
      return undefined;
    } finally {
      this.discard(slot);
    }
    return { synced: meta.synced, jobId: meta.jobId };
  }

  close(): void {
    clearInterval(this.timer);
  }
}
