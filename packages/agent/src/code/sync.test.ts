// mergeCommit as live sync uses it: removals take emptied folders along, and which copy ends where.
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ManifestEntry } from '@dstack/core/gen/agent';
import { BlobStore } from './blobs';
import { mergeCommit, type SyncedTree } from './sync';

const dir = mkdtempSync(join(tmpdir(), 'dstack-sync-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

function setup(name: string) {
  const blobs = new BlobStore(join(dir, name, 'blobs'));
  const wd = join(dir, name, 'wd');
  const synced: SyncedTree = {};
  const entries = (tree: Record<string, string>): ManifestEntry[] =>
    Object.entries(tree).map(([path, content]) => {
      const w = blobs.writer(sha(content));
      w.write(Buffer.from(content));
      w.finish();
      return { path, mode: 0o644, size: content.length, sha256: sha(content), symlinkTarget: '', directory: false };
    });
  const commit = (tree: Record<string, string>, removed: string[] = [], full = false, extra: ManifestEntry[] = []) =>
    mergeCommit(wd, blobs, synced, { full, entries: [...entries(tree), ...extra], removed });
  return { wd, commit, synced };
}

describe('mergeCommit for live sync', () => {
  it('removes the folders a removal leaves empty, and keeps one that holds a file made on the instance', async () => {
    const { wd, commit } = setup('folders');
    await commit({ 'a/b/c/one.txt': '1', 'a/b/two.txt': '2', 'x/y/three.txt': '3', 'keep.txt': 'k' });
    writeFileSync(join(wd, 'x/made-here.txt'), 'instance');
    const r = await commit({}, ['a/b/c/one.txt', 'a/b/two.txt', 'x/y/three.txt']);
    expect(r).toMatchObject({ removed: 3, conflicts: [] });
    expect(existsSync(join(wd, 'a'))).toBe(false);
    expect(existsSync(join(wd, 'x/y'))).toBe(false);
    expect(readFileSync(join(wd, 'x/made-here.txt'), 'utf8')).toBe('instance');
    expect(existsSync(wd)).toBe(true);
    // A full manifest's removals do the same.
    await commit({ 'keep.txt': 'k', 'p/q/r.txt': 'r' }, [], true);
    await commit({ 'keep.txt': 'k' }, [], true);
    expect(existsSync(join(wd, 'p'))).toBe(false);
  });

  it('a local delete of a file edited on the instance keeps the instance version beside the gone path, and its folder', async () => {
    const { wd, commit } = setup('delete-edited');
    await commit({ 'd/f.txt': 'synced' });
    writeFileSync(join(wd, 'd/f.txt'), 'edited on the instance');
    const r = await commit({}, ['d/f.txt']);
    expect(r.removed).toBe(0);
    expect(r.conflicts).toEqual([
      { path: 'd/f.txt', keptAs: 'd/f.txt.remote-conflict', localSha256: '', remoteSha256: sha('edited on the instance') },
    ]);
    expect(existsSync(join(wd, 'd/f.txt'))).toBe(false);
    expect(readFileSync(join(wd, 'd/f.txt.remote-conflict'), 'utf8')).toBe('edited on the instance');
  });

  it('replaces a synced file, link or mode in place of the old one, and records what is on disk', async () => {
    const { wd, commit, synced } = setup('replace');
    const link = (path: string, target: string): ManifestEntry => ({
      path,
      mode: 0o777,
      size: 0,
      sha256: '',
      symlinkTarget: target,
      directory: false,
    });
    await commit({ 'f.txt': 'one', 'l.txt': 'file first' }, [], false, [link('to-link', 'f.txt')]);
    const inode = lstatSync(join(wd, 'f.txt')).ino;
    // A file's new content, a file turned into a link, a link turned into a file.
    const r = await commit({ 'f.txt': 'two', 'to-link': 'now a file' }, [], false, [link('l.txt', 'f.txt')]);
    expect(r).toMatchObject({ written: 3, conflicts: [] });
    expect(readFileSync(join(wd, 'f.txt'), 'utf8')).toBe('two');
    expect(lstatSync(join(wd, 'f.txt')).ino).not.toBe(inode); // a new file renamed into place
    expect(readlinkSync(join(wd, 'l.txt'))).toBe('f.txt');
    expect(lstatSync(join(wd, 'to-link')).isFile()).toBe(true);
    expect(readFileSync(join(wd, 'to-link'), 'utf8')).toBe('now a file');
    for (const rel of ['f.txt', 'to-link']) {
      const st = lstatSync(join(wd, rel));
      expect(synced[rel]).toMatchObject({ kind: 'file', size: st.size, mtimeMs: st.mtimeMs, ino: st.ino });
    }
    // Nothing of the temp files is left behind.
    expect(existsSync(join(wd, `f.txt.dstack-tmp-${process.pid}`))).toBe(false);
    // A later commit of the same content sees the record as unchanged: no conflict, nothing written.
    expect(await commit({ 'f.txt': 'two' })).toMatchObject({ written: 0, conflicts: [] });
  });

  it('keeps a folder made on the instance where a synced file goes', async () => {
    const { wd, commit } = setup('dir-in-the-way');
    mkdirSync(join(wd, 'f.txt'), { recursive: true });
    writeFileSync(join(wd, 'f.txt/inside'), 'instance');
    const r = await commit({ 'f.txt': 'local' });
    expect(r.conflicts).toEqual([{ path: 'f.txt', keptAs: 'f.txt.remote-conflict', localSha256: sha('local'), remoteSha256: '' }]);
    expect(readFileSync(join(wd, 'f.txt'), 'utf8')).toBe('local');
    expect(readFileSync(join(wd, 'f.txt.remote-conflict/inside'), 'utf8')).toBe('instance');
  });

  it("loses nothing when one entry's name is another's kept name, both edited on the instance", async () => {
    const { wd, commit } = setup('kept-names');
    await commit({ 'a.txt': '1', 'a.txt.remote-conflict': 'r1' });
    writeFileSync(join(wd, 'a.txt'), 'a edited here');
    writeFileSync(join(wd, 'a.txt.remote-conflict'), 'r edited here');
    const r = await commit({ 'a.txt': '2', 'a.txt.remote-conflict': 'r2' });
    expect(r.conflicts.map((c) => c.keptAs)).toEqual(['a.txt.remote-conflict.2', 'a.txt.remote-conflict.remote-conflict']);
    const read = (p: string) => readFileSync(join(wd, p), 'utf8');
    expect([
      read('a.txt'),
      read('a.txt.remote-conflict'),
      read('a.txt.remote-conflict.2'),
      read('a.txt.remote-conflict.remote-conflict'),
    ]).toEqual(['2', 'r2', 'a edited here', 'r edited here']);
  });

  it('writes and removes many files across folders in one batch, and takes the emptied folders along', async () => {
    const { wd, commit, synced } = setup('many');
    const tree: Record<string, string> = {};
    for (let i = 0; i < 300; i++) tree[`d${i % 7}/s${i % 3}/f${i}.txt`] = `one ${i}`;
    for (let i = 0; i < 20; i++) tree[`only/x${i % 2}/y${i}.txt`] = `only ${i}`;
    await commit(tree);
    const next: Record<string, string> = {};
    for (let i = 0; i < 200; i++) next[`d${i % 7}/s${i % 3}/f${i}.txt`] = `two ${i}`;
    for (let i = 0; i < 50; i++) next[`new${i % 4}/g${i}.txt`] = `new ${i}`;
    const gone = Object.keys(tree).slice(200);
    const r = await commit(next, gone);
    // 120 files, and the folders only/x0, only/x1 and only.
    expect(r).toMatchObject({ written: 250, removed: 120, conflicts: [] });
    expect(existsSync(join(wd, 'only'))).toBe(false);
    for (const [p, c] of Object.entries(next)) expect(readFileSync(join(wd, p), 'utf8')).toBe(c);
    for (const p of gone) expect(existsSync(join(wd, p))).toBe(false);
    expect(Object.keys(synced).sort()).toEqual(Object.keys(next).sort());
    // Every synced record matches the file on disk.
    for (const p of Object.keys(next)) expect(synced[p].ino).toBe(lstatSync(join(wd, p)).ino);
  });

  it('never writes through a link planted at its temp name (the job can write into the code dir)', async () => {
    const { wd, commit } = setup('planted');
    await commit({ 'f.txt': 'one' });
    const victim = join(dir, 'planted-victim');
    writeFileSync(victim, 'host file');
    symlinkSync(victim, join(wd, `f.txt.dstack-tmp-${process.pid}`));
    await commit({ 'f.txt': 'two' });
    expect(readFileSync(victim, 'utf8')).toBe('host file');
    expect(readFileSync(join(wd, 'f.txt'), 'utf8')).toBe('two');
  });
});
