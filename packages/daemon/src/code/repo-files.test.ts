import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDb } from '../state/db';
import { sha256File } from '@dstack/core/hash';
import { HashCache, KEEP_FILE_MAX } from './hash-cache';
import { RepoTooLargeError, checkRepoSize, listRepoFiles, repoId } from './repo-files';
import { toManifest } from './upload';

const tmp = mkdtempSync(join(tmpdir(), 'dstack-repo-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd, stdio: 'pipe' });

function write(dir: string, rel: string, text: string) {
  mkdirSync(join(dir, rel, '..'), { recursive: true });
  writeFileSync(join(dir, rel), text);
}

function gitRepo(name: string): string {
  const dir = join(tmp, name);
  mkdirSync(dir);
  git(dir, 'init', '-q');
  write(dir, 'committed.txt', 'one');
  write(dir, 'modified.txt', 'before');
  write(dir, 'gone.txt', 'bye');
  write(dir, '.gitignore', 'ignored.txt\nbuild/\n');
  write(dir, 'src/run.sh', '#!/bin/sh\n');
  chmodSync(join(dir, 'src/run.sh'), 0o755);
  git(dir, 'add', '.');
  git(dir, 'commit', '-q', '-m', 'init');
  write(dir, 'modified.txt', 'after');
  write(dir, 'untracked.txt', 'new');
  write(dir, 'ignored.txt', 'secret');
  write(dir, 'build/out.bin', 'x');
  unlinkSync(join(dir, 'gone.txt'));
  symlinkSync('committed.txt', join(dir, 'link'));
  return dir;
}

describe('repo files', () => {
  it('in a git repo: tracked, modified and untracked-not-ignored files, not ignored or deleted ones', async () => {
    const dir = gitRepo('g1');
    const l = await listRepoFiles(dir);
    expect(l.git).toBe(true);
    expect(l.files.map((f) => f.path)).toEqual(['.gitignore', 'committed.txt', 'link', 'modified.txt', 'src/run.sh', 'untracked.txt']);
    const byPath = Object.fromEntries(l.files.map((f) => [f.path, f]));
    expect(byPath['modified.txt'].size).toBe(5); // the edit on disk, not the committed text
    expect(byPath['src/run.sh'].mode).toBe(0o755);
    expect(byPath['committed.txt'].mode).toBe(0o644);
    expect(byPath.link.symlinkTarget).toBe('committed.txt');
  });

  it("reuse: the listing of a moment ago, each file stat'ed again; a commit or `git add` lists anew; without reuse, always anew", async () => {
    const dir = gitRepo('reuse');
    const first = await listRepoFiles(dir, { reuse: true });
    write(dir, 'modified.txt', 'edited again');
    write(dir, 'later.txt', 'created after the first listing');
    const reused = await listRepoFiles(dir, { reuse: true });
    expect(reused.files.map((f) => f.path)).toEqual(first.files.map((f) => f.path));
    expect(reused.files.find((f) => f.path === 'modified.txt')?.size).toBe('edited again'.length);
    expect((await listRepoFiles(dir)).files.map((f) => f.path)).toContain('later.txt');
    write(dir, 'added.txt', 'staged');
    git(dir, 'add', 'added.txt');
    const afterAdd = (await listRepoFiles(dir, { reuse: true })).files.map((f) => f.path);
    expect(afterAdd).toContain('added.txt');
    expect(afterAdd).toContain('later.txt');
  });

  it('sends permission bits only: a setuid/setgid/sticky file goes as 0755 or 0644', async () => {
    const dir = join(tmp, 'modes');
    mkdirSync(dir);
    write(dir, 'suid', '#!/bin/sh\n');
    chmodSync(join(dir, 'suid'), 0o4755);
    write(dir, 'sticky', 'x');
    chmodSync(join(dir, 'sticky'), 0o3644);
    const files = (await listRepoFiles(dir)).files;
    expect(files.map((f) => [f.path, f.mode])).toEqual([
      ['sticky', 0o644],
      ['suid', 0o755],
    ]);
    // toManifest masks whatever mode it is handed.
    const manifest = toManifest(files.map((f) => ({ ...f, mode: f.mode | 0o6000, sha256: 'a'.repeat(64) })));
    expect(manifest.map((e) => e.mode)).toEqual([0o644, 0o755]);
  });

  it('lists the whole repo from a subfolder of it', async () => {
    const dir = gitRepo('g2');
    const l = await listRepoFiles(join(dir, 'src'));
    expect(l.root).toBe(dir);
    expect(l.files.map((f) => f.path)).toContain('committed.txt');
  });

  it('drops .dstackignore patterns in a git repo', async () => {
    const dir = gitRepo('g3');
    write(dir, '.dstackignore', 'untracked.txt\nsrc/\n');
    const l = await listRepoFiles(dir);
    expect(l.files.map((f) => f.path)).toEqual(['.dstackignore', '.gitignore', 'committed.txt', 'link', 'modified.txt']);
  });

  it('uploads a plain folder whole, minus .git and .dstackignore (and .gitignore means nothing there)', async () => {
    const dir = join(tmp, 'plain');
    write(dir, 'a.txt', 'a');
    write(dir, 'data/big.bin', 'bbbb');
    write(dir, 'data/keep.txt', 'k');
    write(dir, '.git/HEAD', 'not really');
    write(dir, '.gitignore', 'a.txt\n');
    write(dir, '.dstackignore', '*.bin\n');
    const l = await listRepoFiles(dir);
    expect(l.git).toBe(false);
    expect(l.files.map((f) => f.path)).toEqual(['.dstackignore', '.gitignore', 'a.txt', 'data/keep.txt']);
    expect(l.totalBytes).toBe(l.files.reduce((n, f) => n + f.size, 0));
  });

  it('finds the repo from a folder inside it, and from a worktree, as git does (without running it)', async () => {
    const dir = gitRepo('top');
    const top = git(dir, 'rev-parse', '--show-toplevel').toString().trim();
    const fromSub = await listRepoFiles(join(dir, 'src'));
    expect(fromSub).toMatchObject({ root: top, git: true });
    expect(fromSub.files.map((f) => f.path)).toContain('committed.txt');
    const wt = join(tmp, 'top-worktree');
    git(dir, 'worktree', 'add', '-q', wt);
    const l = await listRepoFiles(wt);
    expect(l).toMatchObject({ root: git(wt, 'rev-parse', '--show-toplevel').toString().trim(), git: true });
    expect(l.files.map((f) => f.path)).toEqual(['.gitignore', 'committed.txt', 'gone.txt', 'modified.txt', 'src/run.sh']);
  });

  it('prunes ignored folders in a plain folder', async () => {
    const dir = join(tmp, 'plain2');
    write(dir, 'node_modules/x/index.js', 'x');
    write(dir, 'main.py', 'print(1)');
    write(dir, '.dstackignore', 'node_modules/\n');
    expect((await listRepoFiles(dir)).files.map((f) => f.path)).toEqual(['.dstackignore', 'main.py']);
  });

  it('gives a stable repo id: the remote URL when there is one, else the path', async () => {
    const a = gitRepo('id1');
    const idA = await repoId(await listRepoFiles(a));
    expect(idA).toMatch(/^[0-9a-f]{16}$/);
    expect(await repoId(await listRepoFiles(a))).toBe(idA);
    const b = gitRepo('id2');
    git(a, 'remote', 'add', 'origin', 'https://example.invalid/r.git');
    git(b, 'remote', 'add', 'origin', 'https://example.invalid/r.git');
    expect(await repoId(await listRepoFiles(a))).toBe(await repoId(await listRepoFiles(b)));
    // Read from .git/config without git: the same as git's own answer, from a worktree too, and
    // with an include (which the reader leaves to git).
    const byGit = (dir: string) =>
      createHash('sha256')
        .update(`remote:${git(dir, 'config', '--get', 'remote.origin.url').toString().trim()}`)
        .digest('hex')
        .slice(0, 16);
    expect(await repoId(await listRepoFiles(a))).toBe(byGit(a));
    const wt = join(tmp, 'id1-worktree');
    git(a, 'worktree', 'add', '-q', wt);
    expect(await repoId(await listRepoFiles(wt))).toBe(byGit(a));
    write(tmp, 'extra.gitconfig', '[remote "origin"]\n\turl = https://example.invalid/included.git\n');
    git(b, 'config', 'include.path', join(tmp, 'extra.gitconfig'));
    expect(await repoId(await listRepoFiles(b))).toBe(byGit(b));
  });

  it('refuses a repo over the cap, naming the largest paths', async () => {
    const dir = join(tmp, 'big');
    write(dir, 'huge.bin', 'x'.repeat(3000));
    write(dir, 'mid.bin', 'x'.repeat(2000));
    write(dir, 'small.txt', 'x');
    const l = await listRepoFiles(dir);
    expect(() => checkRepoSize(l, 10_000)).not.toThrow();
    expect(() => checkRepoSize(l, 4000)).toThrow(RepoTooLargeError);
    expect(() => checkRepoSize(l, 4000)).toThrow(/largest: huge\.bin \(2\.9KB\), mid\.bin \(2\.0KB\), small\.txt/);
  });
});

describe('hash cache', () => {
  it('rehashes only files whose size, mtime or inode changed', async () => {
    const dir = join(tmp, 'hc');
    for (let i = 0; i < 20; i++) write(dir, `f${i}.txt`, `content ${i}`);
    const db = openDb(join(tmp, 'hc.db'));
    const cache = new HashCache(db);
    const first = await cache.hash((await listRepoFiles(dir)).files);
    expect(first.rehashed).toBe(20);
    expect(first.files.find((f) => f.path === 'f3.txt')?.sha256).toBe(await sha256File(join(dir, 'f3.txt')));
    const again = await cache.hash((await listRepoFiles(dir)).files);
    expect(again.rehashed).toBe(0);
    write(dir, 'f7.txt', 'changed content');
    const third = await cache.hash((await listRepoFiles(dir)).files);
    expect(third.rehashed).toBe(1);
    expect(third.files.find((f) => f.path === 'f7.txt')?.sha256).toBe(await sha256File(join(dir, 'f7.txt')));
    // A deleted file's row goes.
    rmSync(join(dir, 'f3.txt'));
    await cache.hash((await listRepoFiles(dir)).files);
    expect(db.prepare('SELECT count(*) AS n FROM file_hashes').get()).toEqual({ n: 19 });
  });

  it('keeps the hashed bytes of small rehashed files, up to the cap, and no others', async () => {
    const dir = join(tmp, 'keep');
    write(dir, 'a.txt', 'aaaa');
    write(dir, 'b.txt', 'bbbbbb');
    write(dir, 'big.bin', 'x'.repeat(KEEP_FILE_MAX + 1));
    const cache = new HashCache(openDb(join(tmp, 'keep.db')));
    const first = await cache.hash((await listRepoFiles(dir)).files, { concurrency: 1 });
    const by = (r: typeof first, p: string) => r.files.find((f) => f.path === p);
    for (const p of ['a.txt', 'b.txt']) {
      const f = by(first, p);
      expect(f?.data?.toString()).toBe(p[0].repeat(p === 'a.txt' ? 4 : 6));
      expect(f?.sha256).toBe(await sha256File(join(dir, p)));
    }
    expect(by(first, 'big.bin')?.data).toBeUndefined();
    expect(by(first, 'big.bin')?.sha256).toBe(await sha256File(join(dir, 'big.bin')));
    // Cached hashes come without bytes; past the cap, files are hashed without keeping them.
    const again = await cache.hash((await listRepoFiles(dir)).files);
    expect(again.files.every((f) => f.data === undefined)).toBe(true);
    const capped = await new HashCache(null).hash((await listRepoFiles(dir)).files, { concurrency: 1, keepTotal: 5 });
    expect(by(capped, 'a.txt')?.data?.length).toBe(4);
    expect(by(capped, 'b.txt')?.data).toBeUndefined();
    expect(by(capped, 'b.txt')?.sha256).toBe(await sha256File(join(dir, 'b.txt')));
  });
});
