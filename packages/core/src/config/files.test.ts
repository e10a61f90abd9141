// The grammar of dstack's `files:` (FilePathMapping) and `repos:` (RepoSpec): the string forms, the
// mapping forms, and what is refused, each problem at its list position.
import { describe, expect, it } from 'vitest';
import { Issues } from '../resources/errors';
import { parseFiles, parseRepos } from './grammar';

function parse(v: unknown) {
  const issues = new Issues();
  const out = parseFiles(v, issues, ['files']);
  return { out, issues: issues.list.map((i) => ({ path: i.path.join('.'), message: i.message })) };
}

describe('files grammar', () => {
  it.each([
    ['data/train.csv', { local_path: 'data/train.csv', path: 'data/train.csv' }],
    ['./data//x/', { local_path: './data//x/', path: 'data/x' }],
    ['~/.ssh/config:/root/.ssh/config', { local_path: '~/.ssh/config', path: '/root/.ssh/config' }],
    // dstack: `~/.ssh/id_rsa` alone goes to the job user's home (the agent finds it in the container).
    ['~/.ssh/id_rsa', { local_path: '~/.ssh/id_rsa', path: '~/.ssh/id_rsa' }],
    ['/etc/hosts:extra/hosts', { local_path: '/etc/hosts', path: 'extra/hosts' }],
    [
      { local_path: '~/.gitconfig', path: '/root/.gitconfig' },
      { local_path: '~/.gitconfig', path: '/root/.gitconfig' },
    ],
    [{ local_path: 'conf' }, { local_path: 'conf', path: 'conf' }],
  ])('%j', (item, want) => {
    expect(parse([item])).toEqual({ out: [want], issues: [] });
  });

  it.each([
    ['a:b:c', 'files.0', 'invalid file mapping "a:b:c": write LOCAL or LOCAL:PATH'],
    [':/x', 'files.0', 'invalid local_path "": expected a file or folder path'],
    ['a:', 'files.0', 'invalid path "": expected a path in the job'],
    ['a:../x', 'files.0', 'invalid path "../x": `..` is not allowed'],
    ['a:~bob/x', 'files.0', 'invalid path "~bob/x": `~user` is not supported; write ~/... (the job user\'s home) or the path in full'],
    ['ab:/', 'files.0', 'invalid path "/": name a file or folder'],
    [{ path: '/x' }, 'files.0.local_path', 'invalid local_path nothing: expected a file or folder path'],
    [{ local_path: 'a', path: 3 }, 'files.0.path', 'invalid path 3: expected a path in the job'],
  ])('refuses %j', (item, at, message) => {
    const { out, issues } = parse([item]);
    expect(out).toBeUndefined();
    expect(issues).toContainEqual({ path: at, message });
  });

  it('refuses a non-list and an unknown key', () => {
    expect(parse('a:b').issues).toEqual([
      { path: 'files', message: 'expected a list of files (LOCAL, LOCAL:PATH or {local_path, path}), got "a:b"' },
    ]);
    expect(parse([{ local_path: 'a', mode: 1 }]).issues.map((i) => i.path)).toEqual(['files.0.mode']);
  });
});

function repos(v: unknown) {
  const issues = new Issues();
  const out = parseRepos(v, issues, ['repos']);
  return { out, issues: issues.list.map((i) => ({ path: i.path.join('.'), message: i.message })) };
}

const repo = (p: object) => ({
  local_path: null,
  url: null,
  branch: null,
  hash: null,
  path: '.',
  if_exists: 'error',
  token_env: null,
  ...p,
});

describe('repos grammar', () => {
  // dstack's RepoSpec.parse: a `:` after `user@host` or before `//` belongs to the URL.
  it.each([
    ['..', repo({ local_path: '..' })],
    ['../lib:/opt/lib', repo({ local_path: '../lib', path: '/opt/lib' })],
    ['https://github.com/dstackai/dstack', repo({ url: 'https://github.com/dstackai/dstack' })],
    ['https://github.com/dstackai/dstack.git:/src', repo({ url: 'https://github.com/dstackai/dstack.git', path: '/src' })],
    ['git@github.com:dstackai/dstack.git', repo({ url: 'git@github.com:dstackai/dstack.git' })],
    ['git@github.com:dstackai/dstack.git:sub', repo({ url: 'git@github.com:dstackai/dstack.git', path: 'sub' })],
    [
      { url: 'https://h/r.git', branch: 'dev', hash: 'abc', path: '~/r', if_exists: 'skip', token_env: 'GH_TOKEN' },
      repo({ url: 'https://h/r.git', branch: 'dev', hash: 'abc', path: '~/r', if_exists: 'skip', token_env: 'GH_TOKEN' }),
    ],
  ])('%j', (item, want) => {
    expect(repos([item])).toEqual({ out: [want], issues: [] });
  });

  it.each([
    [{ url: 'https://h/r', local_path: '.' }, 'repos.0', '`local_path` and `url` are mutually exclusive'],
    [{ branch: 'dev' }, 'repos.0', 'either `local_path` or `url` must be specified'],
    [{ url: 'h/r' }, 'repos.0.url', 'invalid url "h/r": expected https://..., ssh://... or user@host:path'],
    [{ url: 'https://h/r', if_exists: 'keep' }, 'repos.0.if_exists', 'invalid if_exists "keep": error or skip'],
    [{ local_path: '.', token_env: 'T' }, 'repos.0.token_env', '`token_env` is for a git URL, not a local folder'],
    ['a:b:c', 'repos.0', 'invalid repo "a:b:c": write LOCAL, URL, LOCAL:PATH or URL:PATH'],
    [{ url: 'https://h/r', path: '../x' }, 'repos.0.path', 'invalid path "../x": `..` is not allowed'],
  ])('refuses %j', (item, at, message) => {
    const { out, issues } = repos([item]);
    expect(out).toBeUndefined();
    expect(issues).toContainEqual({ path: at, message });
  });

  it('takes one repo at most, as dstack', () => {
    expect(repos(['.', 'https://h/r']).issues).toEqual([{ path: 'repos.1', message: 'a maximum of one repo is supported (as in dstack)' }]);
  });
});
