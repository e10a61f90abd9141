// The clone script a `repos:` URL becomes, run for real by /bin/sh against a local repo: the branch,
// --single-branch, the commit, if_exists, and the token helper that names the variable only.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { GitRepo } from '@dstack/core/gen/agent';
import { cloneScript } from './repos';

const dir = mkdtempSync(join(tmpdir(), 'repos-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { encoding: 'utf8' }).trim();

// A repo with `main` (one commit) and `dev` (two), served as file://.
const src = join(dir, 'src');
git('init', '-q', '-b', 'main', src);
writeFileSync(join(src, 'f'), 'main\n');
git('-C', src, 'add', 'f');
git('-C', src, 'commit', '-qm', 'main');
git('-C', src, 'checkout', '-qb', 'dev');
writeFileSync(join(src, 'f'), 'dev 1\n');
git('-C', src, 'commit', '-qam', 'dev 1');
const dev1 = git('-C', src, 'rev-parse', 'HEAD');
writeFileSync(join(src, 'f'), 'dev 2\n');
git('-C', src, 'commit', '-qam', 'dev 2');
const URL = `file://${src}`;

const repo = (p: Partial<GitRepo>): GitRepo => ({
  url: URL,
  branch: '',
  hash: '',
  path: '',
  singleBranch: false,
  tokenEnv: '',
  skipIfExists: false,
  ...p,
});
let n = 0;
function clone(r: Partial<GitRepo>, path = join(dir, `c${n++}`)) {
  const res = spawnSync('/bin/sh', ['-c', cloneScript(repo(r), path)], { encoding: 'utf8', env: { ...process.env, HOME: dir } });
  return { code: res.status, out: res.stdout + res.stderr, path };
}
const branches = (path: string) => git('-C', path, 'branch', '-r', '--format=%(refname:short)').split('\n').sort();

describe('cloneScript', () => {
  it('clones the branch, with every remote branch unless single_branch', () => {
    const all = clone({ branch: 'dev' });
    expect(all.code, all.out).toBe(0);
    expect(readFileSync(join(all.path, 'f'), 'utf8')).toBe('dev 2\n');
    expect(branches(all.path)).toEqual(['origin/HEAD', 'origin/dev', 'origin/main']);
    const one = clone({ branch: 'dev', singleBranch: true });
    expect(branches(one.path)).toEqual(['origin/HEAD', 'origin/dev']);
  });

  it('checks out the commit of `hash`', () => {
    const c = clone({ branch: 'dev', hash: dev1 });
    expect(c.code, c.out).toBe(0);
    expect(readFileSync(join(c.path, 'f'), 'utf8')).toBe('dev 1\n');
  });

  it('fails on a path that is not empty, or skips it with if_exists: skip', () => {
    const path = join(dir, 'taken');
    mkdirSync(path);
    writeFileSync(join(path, 'mine'), 'x');
    const failed = clone({}, path);
    expect(failed.code).toBe(3);
    expect(failed.out).toContain(`repos: ${path} exists and is not empty (if_exists: error)`);
    const skipped = clone({ skipIfExists: true }, path);
    expect(skipped.code).toBe(0);
    expect(skipped.out).toContain('skipped (if_exists: skip)');
  });

  it('names the token variable in the script, never a value', () => {
    const script = cloneScript(repo({ url: 'https://h/r.git', tokenEnv: 'GH_TOKEN' }), '/src');
    expect(script).toContain('echo "password=$GH_TOKEN"');
    expect(script).toContain('GIT_TERMINAL_PROMPT=0');
  });
});
