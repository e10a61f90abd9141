import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { absolute, resolveIn } from './confine';

describe('resolveIn', () => {
  const root = mkdtempSync(join(tmpdir(), 'confine-'));
  mkdirSync(join(root, 'home/me'), { recursive: true });
  mkdirSync(join(root, 'etc'));
  writeFileSync(join(root, 'etc/passwd'), 'inside\n');
  symlinkSync('/', join(root, 'home/me/root-link'));
  symlinkSync('../../../../..', join(root, 'home/me/up-link'));
  symlinkSync('/etc/passwd', join(root, 'home/me/abs-file'));
  symlinkSync('loop-b', join(root, 'home/me/loop-a'));
  symlinkSync('loop-a', join(root, 'home/me/loop-b'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('makes relative paths start at home and normalizes', () => {
    expect(absolute('', '/home/me')).toBe('/home/me');
    expect(absolute('.', '/home/me')).toBe('/home/me');
    expect(absolute('a/../b/', '/home/me')).toBe('/home/me/b');
    expect(absolute('/../../etc', '/home/me')).toBe('/etc');
  });

  it('follows absolute and relative symlinks against the root, never above it', async () => {
    expect(await resolveIn(root, 'root-link/etc/passwd', '/home/me')).toEqual({ virtual: '/etc/passwd', host: join(root, 'etc/passwd') });
    expect(await resolveIn(root, 'up-link/etc', '/home/me')).toEqual({ virtual: '/etc', host: join(root, 'etc') });
    expect(await resolveIn(root, 'abs-file', '/home/me')).toEqual({ virtual: '/etc/passwd', host: join(root, 'etc/passwd') });
  });

  it('leaves the last component alone when asked (lstat, readlink, remove)', async () => {
    expect((await resolveIn(root, 'abs-file', '/home/me', false)).virtual).toBe('/home/me/abs-file');
  });

  it('keeps missing components as written, confined', async () => {
    expect((await resolveIn(root, 'root-link/new/../made/file', '/home/me')).virtual).toBe('/made/file');
    expect((await resolveIn(root, '/nope/../../../x', '/')).virtual).toBe('/x');
  });

  it('stops symlink loops', async () => {
    await expect(resolveIn(root, 'loop-a/x', '/home/me')).rejects.toMatchObject({ code: 'ELOOP' });
  });

  it('is plain resolution on the host root', async () => {
    expect((await resolveIn('/', join(root, 'home/me/root-link/etc'), '/')).host).toBe('/etc');
  });
});
