import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TreeCache, DEFAULT_TREE_CACHE } from './tree-cache';
import type { SyncedTree } from './sync';

describe('TreeCache', () => {
  let tmp: string;
  const caches: TreeCache[] = [];
  const cache = (opts = DEFAULT_TREE_CACHE) => {
    const c = new TreeCache(join(tmp, 'trees'), opts);
    caches.push(c);
    return c;
  };
  /** A job's code dir holding one file. */
  const codeDir = (name: string, content: string) => {
    const d = join(tmp, 'jobs', name, 'workflow');
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'f.txt'), content);
    return d;
  };
  const emptyDir = (name: string) => {
    const d = join(tmp, 'jobs', name, 'workflow');
    mkdirSync(d, { recursive: true });
    return d;
  };
  const record: SyncedTree = { 'f.txt': { kind: 'file', sha: 'abc', mode: 0o644, size: 3, mtimeMs: 1, ino: 2 } };
  /** Kept trees (not the ones on their way out). */
  const slots = () => readdirSync(join(tmp, 'trees')).filter((n) => !n.startsWith('.trash-'));

  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), 'tree-cache-'));
  });
  afterEach(() => {
    for (const c of caches.splice(0)) c.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('hands the tree of a removed job to the next job of the same repo, once', () => {
    const c = cache();
    const old = codeDir('a', 'old');
    expect(c.keep('repo-1', 'a', old, record)).toBe(true);
    expect(existsSync(old)).toBe(false);
    expect(c.adopt('repo-2', emptyDir('x'))).toBeUndefined();
    const next = emptyDir('b');
    expect(c.adopt('repo-1', next)).toEqual({ synced: record, jobId: 'a' });
    expect(readFileSync(join(next, 'f.txt'), 'utf8')).toBe('old');
    expect(slots()).toEqual([]);
    const again = emptyDir('c');
    expect(c.adopt('repo-1', again)).toBeUndefined();
    expect(readdirSync(again)).toEqual([]);
  });

  it('keeps one tree per repo: the newer replaces the older', () => {
    const c = cache();
    c.keep('repo-1', 'a', codeDir('a', 'first'), record);
    c.keep('repo-1', 'b', codeDir('b', 'second'), record);
    c.keep('repo-2', 'c', codeDir('c', 'other repo'), record);
    expect(slots()).toHaveLength(2);
    const next = emptyDir('d');
    expect(c.adopt('repo-1', next)?.jobId).toBe('b');
    expect(readFileSync(join(next, 'f.txt'), 'utf8')).toBe('second');
  });

  it('drops trees past their TTL, and keeps nothing while the disk is short of space', async () => {
    const c = cache({ ...DEFAULT_TREE_CACHE, ttlMs: 50 });
    c.keep('repo-1', 'a', codeDir('a', 'x'), record);
    await new Promise((r) => setTimeout(r, 100));
    c.sweep();
    expect(slots()).toEqual([]);
    expect(c.adopt('repo-1', emptyDir('b'))).toBeUndefined();

    const full = cache({ ...DEFAULT_TREE_CACHE, minFreeBytes: Number.MAX_SAFE_INTEGER });
    const wd = codeDir('c', 'x');
    expect(full.keep('repo-1', 'c', wd, record)).toBe(false);
    expect(existsSync(wd)).toBe(true);
  });

  it('keeps nothing for a job without a repo id or without code', () => {
    const c = cache();
    expect(c.keep('', 'a', codeDir('a', 'x'), record)).toBe(false);
    expect(c.keep('repo-1', 'b', join(tmp, 'nowhere'), record)).toBe(false);
    expect(slots()).toEqual([]);
  });
});
