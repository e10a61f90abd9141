// applyCommit as live sync uses it: removals take emptied folders along, and which copy ends where.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ManifestEntry } from '@dstack/core/gen/agent';
import { BlobStore } from './blobs';
import { applyCommit, type SyncState } from './sync';

const dir = mkdtempSync(join(tmpdir(), 'dstack-sync-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

function setup(name: string) {
  const blobs = new BlobStore(join(dir, name, 'blobs'));
  const wd = join(dir, name, 'wd');
  const synced: SyncState = {};
  const entries = (tree: Record<string, string>): ManifestEntry[] =>
    Object.entries(tree).map(([path, content]) => {
      const w = blobs.writer(sha(content));
      w.write(Buffer.from(content));
      w.finish();
      return { path, mode: 0o644, size: content.length, sha256: sha(content), symlinkTarget: '', directory: false };
    });
  const commit = (tree: Record<string, string>, removed: string[] = [], full = false) =>
    applyCommit(wd, blobs, synced, { full, entries: entries(tree), removed });
  return { wd, commit };
}

describe('applyCommit for live sync', () => {
  it('removes the folders a removal leaves empty, and keeps one that holds a file made on the instance', () => {
    const { wd, commit } = setup('folders');
    commit({ 'a/b/c/one.txt': '1', 'a/b/two.txt': '2', 'x/y/three.txt': '3', 'keep.txt': 'k' });
    writeFileSync(join(wd, 'x/made-here.txt'), 'instance');
    const r = commit({}, ['a/b/c/one.txt', 'a/b/two.txt', 'x/y/three.txt']);
    expect(r).toMatchObject({ removed: 3, conflicts: [] });
    expect(existsSync(join(wd, 'a'))).toBe(false);
    expect(existsSync(join(wd, 'x/y'))).toBe(false);
    expect(readFileSync(join(wd, 'x/made-here.txt'), 'utf8')).toBe('instance');
    expect(existsSync(wd)).toBe(true);
    // A full manifest's removals do the same.
    commit({ 'keep.txt': 'k', 'p/q/r.txt': 'r' }, [], true);
    commit({ 'keep.txt': 'k' }, [], true);
    expect(existsSync(join(wd, 'p'))).toBe(false);
  });

  it('a local delete of a file edited on the instance keeps the instance version beside the gone path, and its folder', () => {
    const { wd, commit } = setup('delete-edited');
    commit({ 'd/f.txt': 'synced' });
    writeFileSync(join(wd, 'd/f.txt'), 'edited on the instance');
    const r = commit({}, ['d/f.txt']);
    expect(r.removed).toBe(0);
    expect(r.conflicts).toEqual([{ path: 'd/f.txt', keptAs: 'd/f.txt.remote-conflict', localSha256: '', remoteSha256: sha('edited on the instance') }]);
    expect(existsSync(join(wd, 'd/f.txt'))).toBe(false);
    expect(readFileSync(join(wd, 'd/f.txt.remote-conflict'), 'utf8')).toBe('edited on the instance');
  });
});
