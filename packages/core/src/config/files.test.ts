// The grammar of dstack's `files:` (FilePathMapping): the string forms, the mapping form, and what
// is refused, each problem at its list position. The key itself is still refused by the
// dev-environment table (DEV_ENVIRONMENT_UNSUPPORTED) until the daemon and the agent carry it.
import { describe, expect, it } from 'vitest';
import { Issues } from '../resources/errors';
import { parseFiles } from './grammar';

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
    ['~/.ssh/config', 'files.0', 'invalid path "~/.ssh/config": write the job\'s path in full (/root/...), not with ~'],
    ['a:/', 'files.0', 'invalid path "/": name a file or folder'],
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
