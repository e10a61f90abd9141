import { existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PROFILE_LINE, PROFILE_LOOP, writeProfileFiles } from './profile-files';

// A folder stands in for a container's root (/proc/<pid>/root): what matters is that every path is
// resolved inside it, symlinks included.
describe('writeProfileFiles', () => {
  let root: string;
  const me = { uid: process.getuid!(), gid: process.getgid!() };
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'profile-root-'));
    mkdirSync(join(root, 'etc'));
    mkdirSync(join(root, 'root'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('writes the profile, an /etc/profile where there is none, and one hook line per rc file', async () => {
    await writeProfileFiles(root, { name: 'root', uid: 0, gid: 0, home: '/root' }, 'export A=1\n');
    expect(readFileSync(join(root, 'etc/profile.d/dstack.sh'), 'utf8')).toBe('export A=1\n');
    expect(lstatSync(join(root, 'etc/profile.d/dstack.sh')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(root, 'etc/profile'), 'utf8')).toBe(PROFILE_LOOP);
    for (const f of ['.profile', '.bashrc']) expect(readFileSync(join(root, 'root', f), 'utf8')).toBe(`${PROFILE_LINE}\n`);
    // Again (an agent restart): the profile is replaced, the hooks are not doubled.
    await writeProfileFiles(root, { name: 'root', uid: 0, gid: 0, home: '/root' }, 'export A=2\n');
    expect(readFileSync(join(root, 'etc/profile.d/dstack.sh'), 'utf8')).toBe('export A=2\n');
    expect(readFileSync(join(root, 'root/.bashrc'), 'utf8')).toBe(`${PROFILE_LINE}\n`);
  });

  it("keeps an image's own /etc/profile and rc files, appending to the latter", async () => {
    writeFileSync(join(root, 'etc/profile'), 'PATH=/usr/bin\n');
    mkdirSync(join(root, 'home/u'), { recursive: true });
    writeFileSync(join(root, 'home/u/.bashrc'), 'alias ll="ls -l"\n');
    await writeProfileFiles(root, { name: 'u', ...me, home: '/home/u' }, 'export A=1\n');
    expect(readFileSync(join(root, 'etc/profile'), 'utf8')).toBe('PATH=/usr/bin\n');
    expect(readFileSync(join(root, 'home/u/.bashrc'), 'utf8')).toBe(`alias ll="ls -l"\n${PROFILE_LINE}\n`);
    expect(lstatSync(join(root, 'home/u/.profile')).uid).toBe(me.uid);
  });

  it.runIf(process.getuid?.() === 0)("gives the profile (it holds the job's env) to the job's user alone", async () => {
    mkdirSync(join(root, 'home/u'), { recursive: true });
    await writeProfileFiles(root, { name: 'u', uid: 1234, gid: 2345, home: '/home/u' }, 'export TOKEN=s3cret\n');
    const st = lstatSync(join(root, 'etc/profile.d/dstack.sh'));
    expect([st.uid, st.gid, st.mode & 0o777]).toEqual([1234, 2345, 0o600]);
  });

  it.runIf(process.getuid?.() === 0)('never appends to a file the user does not own, even when its rc file links there', async () => {
    mkdirSync(join(root, 'home/u'), { recursive: true });
    writeFileSync(join(root, 'etc/shadow'), 'root:*:19000::::::\n', { mode: 0o600 });
    symlinkSync('/etc/shadow', join(root, 'home/u/.bashrc'));
    writeFileSync(join(root, 'etc/motd'), 'hello\n');
    linkSync(join(root, 'etc/motd'), join(root, 'home/u/.profile'));
    await writeProfileFiles(root, { name: 'u', uid: 1234, gid: 1234, home: '/home/u' }, 'export A=1\n');
    expect(readFileSync(join(root, 'etc/shadow'), 'utf8')).toBe('root:*:19000::::::\n');
    expect(readFileSync(join(root, 'etc/motd'), 'utf8')).toBe('hello\n');
  });

  it("makes the profile (it holds the job's secrets) the session user's alone, also over an older one", async () => {
    mkdirSync(join(root, 'etc/profile.d'));
    writeFileSync(join(root, 'etc/profile.d/dstack.sh'), 'old\n', { mode: 0o644 });
    const user = { name: 'u', uid: 4242, gid: 4343, home: '/home/u' };
    await writeProfileFiles(root, user, 'export TOKEN=s3cret\n');
    const st = lstatSync(join(root, 'etc/profile.d/dstack.sh'));
    expect([st.mode & 0o777, st.uid, st.gid]).toEqual([0o600, 4242, 4343]);
    expect(readFileSync(join(root, 'etc/profile.d/dstack.sh'), 'utf8')).toBe('export TOKEN=s3cret\n');
  });

  it('follows symlinks inside the root only: an absolute link means the container root, not the host', async () => {
    // /etc/profile.d -> /var/profile.d inside the image; ~/.bashrc -> /dotfiles/bashrc; ~/.profile ->
    // an absolute path that exists inside the root and not on the host.
    const unique = `/dstack-test-${process.pid}-${Date.now()}`;
    mkdirSync(join(root, 'var/profile.d'), { recursive: true });
    symlinkSync('/var/profile.d', join(root, 'etc/profile.d'));
    mkdirSync(join(root, 'dotfiles'));
    symlinkSync('/dotfiles/bashrc', join(root, 'root/.bashrc'));
    mkdirSync(join(root, unique));
    symlinkSync(`${unique}/profile`, join(root, 'root/.profile'));
    await writeProfileFiles(root, { name: 'root', uid: 0, gid: 0, home: '/root' }, 'export A=1\n');
    expect(readFileSync(join(root, 'var/profile.d/dstack.sh'), 'utf8')).toBe('export A=1\n');
    expect(readFileSync(join(root, 'dotfiles/bashrc'), 'utf8')).toBe(`${PROFILE_LINE}\n`);
    expect(readFileSync(join(root, unique, 'profile'), 'utf8')).toBe(`${PROFILE_LINE}\n`);
    expect(existsSync(unique)).toBe(false);
  });

  it('leaves a hook it cannot write (as the shell it replaces did), and still writes the profile', async () => {
    symlinkSync('/nowhere/profile', join(root, 'root/.profile'));
    await writeProfileFiles(root, { name: 'root', uid: 0, gid: 0, home: '/root' }, 'export A=1\n');
    expect(readFileSync(join(root, 'root/.bashrc'), 'utf8')).toBe(`${PROFILE_LINE}\n`);
    expect(existsSync(join(root, 'nowhere'))).toBe(false);
  });

  it('skips the hooks of a user with no home of its own', async () => {
    await writeProfileFiles(root, { name: '1234', uid: 1234, gid: 1234, home: '/' }, 'export A=1\n');
    expect(() => lstatSync(join(root, '.profile'))).toThrow();
    expect(readFileSync(join(root, 'etc/profile.d/dstack.sh'), 'utf8')).toBe('export A=1\n');
  });
});
