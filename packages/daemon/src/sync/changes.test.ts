import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HashCache } from '../code/hash-cache';
import { listRepoFiles } from '../code/repo-files';
import type { PathKind } from './batcher';
import { isIgnoreFile, localDelta, signature, syncedUnder, WHOLE_TREE_AFTER, type Signature } from './changes';

const base = mkdtempSync(join(tmpdir(), 'dstack-sync-changes-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

function write(root: string, files: Record<string, string>) {
  for (const [p, c] of Object.entries(files)) {
    mkdirSync(join(root, p, '..'), { recursive: true });
    writeFileSync(join(root, p), c);
  }
}

async function syncedOf(root: string): Promise<Map<string, Signature>> {
  const { files } = await new HashCache(null).hash((await listRepoFiles(root)).files);
  return new Map(files.map((f) => [f.path, signature(f)]));
}

function dirtyOf(entries: [string, PathKind][]): Map<string, PathKind> {
  return new Map(entries);
}

async function summary(root: string, dirty: Map<string, PathKind>, synced: Map<string, Signature>) {
  const d = await localDelta(root, dirty, synced, new HashCache(null));
  return { files: d.files.map((f) => f.path).sort(), removed: d.removed.sort(), whole: d.whole };
}

describe('syncedUnder', () => {
  it('finds a path and what is under it, not its look-alikes', () => {
    const sorted = ['a', 'a-b', 'a.txt', 'a/b', 'a/c/d', 'ab', 'b'].sort();
    expect(syncedUnder(sorted, 'a')).toEqual(['a', 'a/b', 'a/c/d']);
    expect(syncedUnder(sorted, 'a/c')).toEqual(['a/c/d']);
    expect(syncedUnder(sorted, 'zz')).toEqual([]);
  });
});

describe('isIgnoreFile', () => {
  it('names .gitignore anywhere and .dstackignore at the root', () => {
    expect(['.gitignore', 'src/.gitignore', '.dstackignore'].every(isIgnoreFile)).toBe(true);
    expect(['gitignore', 'src/.dstackignore', 'x.gitignore.txt'].some(isIgnoreFile)).toBe(false);
  });
});

describe('localDelta', () => {
  it("in a git repo: changed, new, removed and renamed paths, by git's rules (nested and global ignores) and .dstackignore", async () => {
    const root = join(base, 'git');
    mkdirSync(root);
    const git = (...args: string[]) =>
      execFileSync('git', ['-C', root, '-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { stdio: 'pipe' });
    git('init', '-q');
    const globalIgnore = join(base, 'global-ignore');
    writeFileSync(globalIgnore, '*.globalskip\n');
    git('config', 'core.excludesFile', globalIgnore);
    write(root, {
      'keep.txt': 'keep',
      'edit.txt': 'v1',
      'gone.txt': 'bye',
      'dir/a.txt': 'a',
      'dir/b.txt': 'b',
      'sub/.gitignore': '*.log\n',
      '.dstackignore': 'private/\n',
      'star*.txt': 'a literal star',
      'starry.txt': 'not matched by star*.txt',
    });
    git('add', '.');
    git('commit', '-qm', 'init');
    const synced = await syncedOf(root);
    expect(synced.has('.dstackignore')).toBe(true);

    write(root, {
      'edit.txt': 'v2',
      'new.txt': 'n',
      'sub/debug.log': 'ignored',
      'sub/x.globalskip': 'ignored',
      'private/secret.txt': 's',
      'star*.txt': 'edited',
    });
    rmSync(join(root, 'gone.txt'));
    renameSync(join(root, 'dir'), join(root, 'renamed'));
    chmodSync(join(root, 'keep.txt'), 0o755);
    symlinkSync('keep.txt', join(root, 'link'));
    mkdirSync(join(root, '.git', 'never'), { recursive: true });
    const dirty = dirtyOf([
      ['edit.txt', 'file'],
      ['new.txt', 'file'],
      ['sub/debug.log', 'file'],
      ['sub/x.globalskip', 'file'],
      ['private', 'dir'],
      ['gone.txt', 'file'],
      ['dir', 'dir'],
      ['renamed', 'dir'],
      ['keep.txt', 'file'],
      ['link', 'file'],
      ['star*.txt', 'file'],
    ]);
    const want = {
      files: ['edit.txt', 'keep.txt', 'link', 'new.txt', 'renamed/a.txt', 'renamed/b.txt', 'star*.txt'],
      removed: ['dir/a.txt', 'dir/b.txt', 'gone.txt'],
    };
    expect(await summary(root, dirty, synced)).toEqual({ ...want, whole: false });
    // Past WHOLE_TREE_AFTER paths the whole tree is listed: the same answer.
    const many = new Map(dirty);
    for (let i = 0; i <= WHOLE_TREE_AFTER; i++) many.set(`nothing-${i}`, 'file');
    expect(await summary(root, many, synced)).toEqual({ ...want, whole: true });
    // Unchanged paths send nothing.
    expect(
      await summary(
        root,
        dirtyOf([
          ['starry.txt', 'file'],
          ['sub/.gitignore', 'file'],
        ]),
        synced,
      ),
    ).toEqual({ files: [], removed: [], whole: false });
  });

  it("in a plain folder: everything but .git and .dstackignore's patterns", async () => {
    const root = join(base, 'plain');
    write(root, { 'a.txt': 'a', 'data/big.bin': 'x', '.dstackignore': 'data/\n*.tmp\n' });
    const synced = await syncedOf(root);
    expect([...synced.keys()].sort()).toEqual(['.dstackignore', 'a.txt']);
    write(root, { 'a.txt': 'a2', 'data/more.bin': 'y', 'b.tmp': 't', 'c/d.txt': 'd', '.git/HEAD': 'x' });
    const got = await summary(
      root,
      dirtyOf([
        ['a.txt', 'file'],
        ['data/more.bin', 'file'],
        ['b.tmp', 'file'],
        ['c', 'dir'],
      ]),
      synced,
    );
    expect(got).toEqual({ files: ['a.txt', 'c/d.txt'], removed: [], whole: false });
  });
});
