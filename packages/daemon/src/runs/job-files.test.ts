// `files:` and `repos:` as the daemon reads them on the user's machine: paths resolved as dstack
// does (the configuration file's folder, `~`), modes kept, folders walked, a local repo listed as
// git lists it, and each problem one error at the entry's FILE:LINE:COL naming the path.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfiguration, type DevEnvironmentConfiguration } from '@dstack/core/config/index';
import { checkFilesAndRepos, gitReposFor, readJobFiles, runRepoSource } from './job-files';

const dir = mkdtempSync(join(tmpdir(), 'job-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const project = join(dir, 'project');
mkdirSync(join(project, 'conf/sub'), { recursive: true });
writeFileSync(join(project, 'conf/a.yml'), 'a: 1\n');
chmodSync(join(project, 'conf/a.yml'), 0o600);
writeFileSync(join(project, 'conf/sub/run.sh'), 'echo\n');
chmodSync(join(project, 'conf/sub/run.sh'), 0o755);
writeFileSync(join(dir, 'outside.txt'), 'outside');
const CONFIG = join(project, '.dstack.yml');

function load(body: string): { config: DevEnvironmentConfiguration; file: { path: string; text: string } } {
  const text = `type: dev-environment\n${body}\n`;
  const r = parseConfiguration(CONFIG, text);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return { config: r.config as DevEnvironmentConfiguration, file: { path: CONFIG, text } };
}

const shown = (files: Awaited<ReturnType<typeof readJobFiles>>) =>
  files.map((f) => `${f.path} ${f.dir ? 'dir' : Buffer.from(f.content).toString().trim() || f.linkTarget} ${f.mode.toString(8)}`);

describe('readJobFiles', () => {
  it('resolves local paths from the file, `~`, and a path outside the repo; folders walked', async () => {
    const home = process.env.HOME;
    process.env.HOME = dir;
    try {
      const { config, file } = load('files:\n  - conf:/etc/conf\n  - ../outside.txt:o.txt\n  - ~/outside.txt:~/o.txt');
      expect(shown(await readJobFiles(config, file, ''))).toEqual([
        '/etc/conf dir 755',
        '/etc/conf/a.yml a: 1 600',
        '/etc/conf/sub dir 755',
        '/etc/conf/sub/run.sh echo 755',
        'o.txt outside 644',
        '~/o.txt outside 644',
      ]);
    } finally {
      process.env.HOME = home;
    }
  });

  it('names the entry at its line and column, and the path, when it is missing', async () => {
    const { config, file } = load('image: ubuntu\nfiles:\n  - conf/a.yml\n  - nothing/here:/x');
    await expect(readJobFiles(config, file, '')).rejects.toThrow(
      `${CONFIG}:5:5: files: ${join(project, 'nothing/here')}: no such file or folder`,
    );
  });

  it('refuses an entry over the limit (dstack: 2 MB each)', async () => {
    const { config, file } = load('files: [conf]');
    await expect(readJobFiles(config, file, '', 8)).rejects.toThrow(
      `${CONFIG}:2:9: files: conf is over the 8B limit of each entry (as dstack's): put large data on a volume, or leave it out`,
    );
  });

  it('lists a local repo folder as git does, at its path', async () => {
    const lib = join(dir, 'lib');
    mkdirSync(lib);
    execFileSync('git', ['init', '-q', lib]);
    writeFileSync(join(lib, '.gitignore'), 'build/\n');
    writeFileSync(join(lib, 'lib.py'), 'x = 1\n');
    mkdirSync(join(lib, 'build'));
    writeFileSync(join(lib, 'build/big.bin'), 'ignored');
    const { config, file } = load('repos: ["../lib:/opt/lib"]');
    expect(shown(await readJobFiles(config, file, ''))).toEqual([
      '/opt/lib dir 755',
      '/opt/lib/.gitignore build/ 644',
      '/opt/lib/lib.py x = 1 644',
    ]);
  });
});

describe('repos', () => {
  it('a URL at `.` replaces the upload; a local folder at `.` is the repo uploaded', async () => {
    const given = { repoDir: project, noRepo: false };
    const url = load('repos: [https://example.com/r.git]');
    expect(await runRepoSource(url.config, url.file, given)).toEqual({ repoDir: '', noRepo: true });
    const local = load('repos: [conf]');
    expect(await runRepoSource(local.config, local.file, given)).toEqual({ repoDir: join(project, 'conf'), noRepo: false });
    const elsewhere = load('repos: ["https://example.com/r.git:/src"]');
    expect(await runRepoSource(elsewhere.config, elsewhere.file, given)).toBe(given);
  });

  it('refuses an SSH URL at its place, saying why', async () => {
    const { config, file } = load('repos:\n  - git@github.com:me/r.git');
    await expect(checkFilesAndRepos(config, file, { repoDir: '', noRepo: true })).rejects.toThrow(
      new RegExp(`^${CONFIG}:3:5: repos: git@github.com:me/r.git: cloning over SSH needs your SSH agent on the instance`),
    );
  });

  it('gives the agent the URL, branch, path and single_branch', () => {
    const { config } = load('single_branch: true\nenv: [T=x]\nrepos: [{url: "https://h/r.git", branch: dev, path: ~/r, token_env: T}]');
    expect(gitReposFor(config)).toEqual([
      { url: 'https://h/r.git', branch: 'dev', hash: '', path: '~/r', singleBranch: true, tokenEnv: 'T', skipIfExists: false },
    ]);
  });

  it('refuses a token_env that is not in env', () => {
    const r = parseConfiguration(CONFIG, 'type: dev-environment\nrepos: [{url: "https://h/r.git", token_env: GH_TOKEN}]\n');
    expect(r.ok ? [] : r.errors.map((e) => `${e.line}:${e.column}: ${e.message}`)).toEqual([
      '2:45: token_env "GH_TOKEN" is not in `env`: add it there, e.g. `GH_TOKEN=${{ secrets.GH_TOKEN }}`',
    ]);
  });
});
