import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UserError } from '../errors';
import { profilesFor, shownPath } from './profiles';

const dirs: string[] = [];
function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'profiles-'));
  dirs.push(dir);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('profilesFor', () => {
  it("sends the repo's .dstack/profiles.yml, then ~/.dstack/profiles.yml (.yaml where .yml is missing)", () => {
    const root = tree({ 'repo/.dstack/profiles.yml': 'repo', 'home/.dstack/profiles.yaml': 'home' });
    const p = profilesFor(join(root, 'repo'), 'gpu', {}, join(root, 'home'));
    expect(p?.name).toBe('gpu');
    expect(p?.flag).toBe('--profile');
    expect(p?.files.map((f) => f.text)).toEqual(['repo', 'home']);
    expect(p?.files[1].path.endsWith(join('.dstack', 'profiles.yaml'))).toBe(true);
  });

  it('takes the name from $DSTACK_PROFILE when --profile is not given, and says so', () => {
    const root = tree({ 'home/.dstack/profiles.yml': 'home' });
    expect(profilesFor(join(root, 'repo'), undefined, { DSTACK_PROFILE: 'big' }, join(root, 'home'))).toMatchObject({
      name: 'big',
      flag: '$DSTACK_PROFILE',
    });
    expect(profilesFor(join(root, 'repo'), 'small', { DSTACK_PROFILE: 'big' }, join(root, 'home'))).toMatchObject({
      name: 'small',
      flag: '--profile',
    });
  });

  it('sends nothing without a name and without files; a name alone still goes (the daemon says it is nowhere)', () => {
    const root = tree({});
    expect(profilesFor(root, undefined, {}, root)).toBeUndefined();
    expect(profilesFor(root, 'gpu', {}, root)).toEqual({ name: 'gpu', flag: '--profile', files: [] });
  });

  it('reads a file once when the repo is the home folder', () => {
    const root = tree({ '.dstack/profiles.yml': 'once' });
    expect(profilesFor(root, undefined, {}, root)?.files).toHaveLength(1);
  });

  // A regular file whose read fails even for root (CI runs as root): /proc/self/mem answers EIO.
  it('a file that cannot be read is named', () => {
    const root = tree({});
    mkdirSync(join(root, '.dstack'), { recursive: true });
    symlinkSync('/proc/self/mem', join(root, '.dstack/profiles.yml'));
    expect(() => profilesFor(root, undefined, {}, '/nonexistent')).toThrow(UserError);
    expect(() => profilesFor(root, undefined, {}, '/nonexistent')).toThrow(/profiles\.yml/);
  });
});

describe('shownPath', () => {
  it('from the working directory when under it, else from ~, else whole', () => {
    expect(shownPath('/w/repo/.dstack/profiles.yml', '/w/repo', '/home/me')).toBe('.dstack/profiles.yml');
    expect(shownPath('/home/me/.dstack/profiles.yml', '/w/repo', '/home/me')).toBe('~/.dstack/profiles.yml');
    expect(shownPath('/etc/x.yml', '/w/repo', '/home/me')).toBe('/etc/x.yml');
  });
});
