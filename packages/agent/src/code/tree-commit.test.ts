import { createHash } from 'node:crypto';
import { chmodSync, linkSync, lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ManifestEntry } from '@dstack/core/gen/agent';
import { BlobStore } from './blobs';
import type { SyncedTree } from './sync';
import { commitExact, scanTree } from './tree-commit';
import { treeSnapshot as snapshot } from '../../../../test/harness/tree-snapshot';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('commitExact', () => {
  let tmp: string;
  let blobs: BlobStore;
  const files: Record<string, { content?: string; mode?: number; link?: string; dir?: boolean }> = {
    'README.md': { content: 'readme\n' },
    'bin/run.sh': { content: '#!/bin/sh\necho run\n', mode: 0o755 },
    'src/a/one.py': { content: 'one = 1\n' },
    'src/a/two.py': { content: 'two = 2\n' },
    'src/b/same-as-one.py': { content: 'one = 1\n' },
    'secret.txt': { content: 'only me\n', mode: 0o600 },
    link: { link: 'src/a/one.py' },
    empty: { dir: true, mode: 0o700 },
  };

  const manifest = (tree = files): ManifestEntry[] =>
    Object.entries(tree).map(([path, f]) => ({
      path,
      mode: f.mode ?? (f.dir ? 0o755 : 0o644),
      size: f.content?.length ?? 0,
      sha256: f.content !== undefined ? sha(f.content) : '',
      symlinkTarget: f.link ?? '',
      directory: !!f.dir,
    }));

  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), 'tree-commit-'));
    blobs = new BlobStore(join(tmp, 'blobs'));
    for (const f of Object.values(files)) {
      if (f.content === undefined) continue;
      const w = blobs.writer(sha(f.content));
      w.write(Buffer.from(f.content));
      w.finish();
    }
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  it('writes a fresh tree with its modes, links and folders', async () => {
    const wd = join(tmp, 'fresh');
    const synced: SyncedTree = {};
    const r = await commitExact(wd, blobs, synced, manifest());
    expect(r).toMatchObject({ written: 8, removed: 0, unchanged: 0, conflicts: [] });
    const own = `${process.getuid!()}:${process.getgid!()}`;
    expect(snapshot(wd)).toEqual({
      'README.md': `file 644 ${own} readme\n`,
      bin: `dir 755 ${own}`,
      'bin/run.sh': `file 755 ${own} #!/bin/sh\necho run\n`,
      empty: `dir 700 ${own}`,
      link: 'link src/a/one.py',
      'secret.txt': `file 600 ${own} only me\n`,
      src: `dir 755 ${own}`,
      'src/a': `dir 755 ${own}`,
      'src/a/one.py': `file 644 ${own} one = 1\n`,
      'src/a/two.py': `file 644 ${own} two = 2\n`,
      'src/b': `dir 755 ${own}`,
      'src/b/same-as-one.py': `file 644 ${own} one = 1\n`,
    });
    expect(Object.keys(synced).sort()).toEqual([
      'README.md',
      'bin/run.sh',
      'empty',
      'link',
      'secret.txt',
      'src/a/one.py',
      'src/a/two.py',
      'src/b/same-as-one.py',
    ]);
    expect(synced['README.md']).toMatchObject({ kind: 'file', sha: sha('readme\n'), size: 7, ino: lstatSync(join(wd, 'README.md')).ino });
  });

  it('turns an old tree, edited on the instance, into exactly what a fresh commit makes', async () => {
    const old = join(tmp, 'old');
    const synced: SyncedTree = {};
    await commitExact(old, blobs, synced, manifest());
    // What a job does to its tree: edits (one of the same size, in place), new files and folders,
    // a link made a folder, modes changed, a second link to a file, a folder removed, a link out.
    // (An edit lands a clock tick or more after our write, as any real one does; the file's mtime
    // has that tick's granularity.)
    const one = join(old, 'src/a/one.py');
    const written = lstatSync(one).mtimeMs;
    for (let i = 0; i < 100 && lstatSync(one).mtimeMs === written; i++) {
      await new Promise((r) => setTimeout(r, 5));
      writeFileSync(one, 'ONE = 1\n');
    }
    writeFileSync(join(old, 'README.md'), 'a longer readme, edited in the old job\n');
    writeFileSync(join(old, 'made-on-instance.txt'), 'new\n');
    mkdirSync(join(old, '.venv/lib'), { recursive: true });
    writeFileSync(join(old, '.venv/lib/site.py'), 'x\n');
    rmSync(join(old, 'link'));
    mkdirSync(join(old, 'link'));
    chmodSync(join(old, 'bin/run.sh'), 0o644);
    chmodSync(join(old, 'src'), 0o700);
    linkSync(join(old, 'secret.txt'), join(tmp, 'outside-link'));
    rmSync(join(old, 'empty'), { recursive: true });
    symlinkSync('/etc', join(old, 'src/b/etc'));

    // The next job's commit, with one file changed locally (a re-apply after one edit).
    const next = { ...files, 'src/a/two.py': { content: 'one = 1\n' } };
    // Scanned ahead, as the agent does when a job adopts a kept tree.
    const r = await commitExact(old, blobs, synced, manifest(next), scanTree(old, 3));
    const fresh = join(tmp, 'fresh');
    await commitExact(fresh, blobs, {}, manifest(next));
    expect(snapshot(old)).toEqual(snapshot(fresh));
    // Kept: bin/run.sh (mode put back) and src/b/same-as-one.py. The rest was written again.
    expect(r.unchanged).toBe(2);
    expect(r.written).toBe(6); // README.md, one.py, two.py, secret.txt (two links to it), link, empty
    expect(r.removed).toBe(4); // made-on-instance.txt, .venv, the folder at link, src/b/etc
    // The record describes the new tree.
    expect(synced['src/a/two.py'].sha).toBe(sha('one = 1\n'));
    expect(synced['src/a/one.py'].ino).toBe(lstatSync(one).ino);
    expect(Object.keys(synced)).not.toContain('made-on-instance.txt');
  });

  it('drops what the new manifest no longer names, and leaves an untouched tree untouched', async () => {
    const wd = join(tmp, 'wd');
    const synced: SyncedTree = {};
    await commitExact(wd, blobs, synced, manifest());
    const inodes = Object.fromEntries(['README.md', 'src/a/one.py'].map((p) => [p, lstatSync(join(wd, p)).ino]));
    const fewer = { ...files };
    delete fewer['src/a/two.py'];
    delete fewer['bin/run.sh'];
    const r = await commitExact(wd, blobs, synced, manifest(fewer));
    expect(r).toMatchObject({ written: 0, removed: 2, unchanged: 5 });
    expect(snapshot(wd)).not.toHaveProperty('bin');
    expect(snapshot(wd)).not.toHaveProperty('src/a/two.py');
    for (const [p, ino] of Object.entries(inodes)) expect(lstatSync(join(wd, p)).ino).toBe(ino);
  });

  it('refuses a manifest that makes one path both a file and a folder', async () => {
    const bad = { a: { content: 'readme\n' }, 'a/b': { content: 'readme\n' } };
    await expect(commitExact(join(tmp, 'bad'), blobs, {}, manifest(bad))).rejects.toThrow(/"a" is a file, and a folder of other entries/);
  });
});
