// resolveInRoot and friends on a folder standing in for a container's root: links resolve against
// that root, never above it, and the folder held at the end is the one the target sees.
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HeldDir } from './held-dir';
import { absolute, ensureDirInRoot, openDirInRoot, readFileInRoot, resolveInRoot } from './in-root';

const root = mkdtempSync(join(tmpdir(), 'in-root-'));
mkdirSync(join(root, 'home/me'), { recursive: true });
mkdirSync(join(root, 'etc'));
writeFileSync(join(root, 'etc/passwd'), 'inside\n');
symlinkSync('/', join(root, 'home/me/root-link'));
symlinkSync('../../../../..', join(root, 'home/me/up-link'));
symlinkSync('/etc/passwd', join(root, 'home/me/abs-file'));
symlinkSync('loop-b', join(root, 'home/me/loop-a'));
symlinkSync('loop-a', join(root, 'home/me/loop-b'));
const held = HeldDir.open(root);
afterAll(() => {
  held.close();
  rmSync(root, { recursive: true, force: true });
});

/** The host path of what a resolution names, and lets go of its folder. */
function where(r: ReturnType<typeof resolveInRoot>): { virtual: string; host?: string } {
  const host = r.parent ? (r.name ? join(readlinkOf(r.parent), r.name) : readlinkOf(r.parent)) : undefined;
  r.parent?.close();
  return { virtual: r.virtual, host };
}

function readlinkOf(dir: HeldDir): string {
  return readlinkSync(dir.path);
}

describe('resolveInRoot', () => {
  it('makes relative paths start at home and normalizes', () => {
    expect(absolute('', '/home/me')).toBe('/home/me');
    expect(absolute('.', '/home/me')).toBe('/home/me');
    expect(absolute('a/../b/', '/home/me')).toBe('/home/me/b');
    expect(absolute('/../../etc', '/home/me')).toBe('/etc');
  });

  it('follows absolute and relative links against the root, never above it', () => {
    expect(where(resolveInRoot(held, 'root-link/etc/passwd', { home: '/home/me' }))).toEqual({
      virtual: '/etc/passwd',
      host: join(root, 'etc/passwd'),
    });
    expect(where(resolveInRoot(held, 'up-link/etc', { home: '/home/me' }))).toEqual({ virtual: '/etc', host: join(root, 'etc') });
    expect(where(resolveInRoot(held, 'abs-file', { home: '/home/me' }))).toEqual({
      virtual: '/etc/passwd',
      host: join(root, 'etc/passwd'),
    });
    expect(where(resolveInRoot(held, '/home/me/up-link', {}))).toEqual({ virtual: '/', host: root });
  });

  it('leaves the last component alone when asked (lstat, readlink, remove)', () => {
    expect(where(resolveInRoot(held, 'abs-file', { home: '/home/me', followLast: false }))).toEqual({
      virtual: '/home/me/abs-file',
      host: join(root, 'home/me/abs-file'),
    });
  });

  it('keeps missing components as written, confined, with a folder only when the last one is missing', () => {
    expect(where(resolveInRoot(held, 'root-link/new/../made/file', { home: '/home/me' }))).toEqual({
      virtual: '/made/file',
      host: undefined,
    });
    expect(where(resolveInRoot(held, '/nope/../../../x'))).toEqual({ virtual: '/x', host: join(root, 'x') });
    expect(where(resolveInRoot(held, '/etc/new-file'))).toEqual({ virtual: '/etc/new-file', host: join(root, 'etc/new-file') });
  });

  it('stops link loops', () => {
    expect(() => resolveInRoot(held, 'loop-a/x', { home: '/home/me' })).toThrow(expect.objectContaining({ code: 'ELOOP' }));
  });

  it('is plain resolution on the host root', () => {
    const slash = HeldDir.open('/');
    try {
      expect(where(resolveInRoot(slash, join(root, 'home/me/root-link/etc')))).toEqual({ virtual: '/etc', host: '/etc' });
    } finally {
      slash.close();
    }
  });
});

describe('helpers on top', () => {
  it('makes missing folders inside the root with the mode and owner asked for, through links in the image', () => {
    symlinkSync('/var/data', join(root, 'data-link'));
    const dir = ensureDirInRoot(held, '/data-link/a/b', 0o750, { uid: process.getuid!(), gid: process.getgid!() });
    dir.close();
    expect(lstatSync(join(root, 'var/data/a/b')).mode & 0o777).toBe(0o750);
    const { dir: again, virtual } = openDirInRoot(held, '/data-link/a/b');
    again.close();
    expect(virtual).toBe('/var/data/a/b');
  });

  it('reads a file of the target, and nothing that is not a regular file', () => {
    expect(readFileInRoot(held, '/home/me/abs-file')?.data.toString()).toBe('inside\n');
    expect(readFileInRoot(held, '/etc')).toBeUndefined();
    expect(readFileInRoot(held, '/etc/missing')).toBeUndefined();
    expect(readFileSync(join(root, 'etc/passwd'), 'utf8')).toBe('inside\n');
  });
});
