// The private /tmp folder of a session (ssh-server/private-tmp.ts), on a folder standing in for a target's
// root: made root's and 0700, handed over entries first, and never through a link. A link put in
// place of an entry (by the session's user, who may write there once it owns the folder) must not
// give a host file away, and its removal must not follow one either. Needs root (lchown), as the
// agent has.
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { handOver, makePrivateTmpDir } from '../../packages/agent/src/ssh-server/private-tmp';

const base = mkdtempSync(join(tmpdir(), 'dstack-private-tmp-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const user = { name: 'dev', uid: 4321, gid: 4322, home: '/home/dev' };

describe('private session folder', () => {
  it("is made 0700 and root-owned inside the target's /tmp, then handed over entries first", async () => {
    const root = join(base, 'root1');
    mkdirSync(join(root, 'tmp'), { recursive: true });
    chmodSync(join(root, 'tmp'), 0o1777);
    const dir = makePrivateTmpDir(root, 'dstack-io');
    expect(dir.virtual).toMatch(/^\/tmp\/dstack-io-[0-9a-f]{12}$/);
    const host = join(root, dir.virtual);
    const st = statSync(host);
    expect([st.mode & 0o7777, st.uid]).toEqual([0o700, process.getuid!()]);
    writeFileSync(join(host, 'in'), '');
    handOver(dir, user, ['in']);
    for (const p of [host, join(host, 'in')]) expect([lstatSync(p).uid, lstatSync(p).gid]).toEqual([4321, 4322]);
    await dir.remove();
    expect(existsSync(host)).toBe(false);
  });

  it('resolves a /tmp that is a link inside the target, not on the host', async () => {
    const root = join(base, 'root2');
    mkdirSync(join(root, 'var/tmp'), { recursive: true });
    symlinkSync('/var/tmp', join(root, 'tmp')); // absolute: would be the host's /var/tmp if followed as is
    const dir = makePrivateTmpDir(root, 'dstack-ssh');
    expect(dir.virtual.startsWith('/var/tmp/dstack-ssh-')).toBe(true);
    expect(existsSync(join(root, dir.virtual))).toBe(true);
    await dir.remove();
  });

  it('gives away a link put in place of an entry, never what it points at', async () => {
    const root = join(base, 'root3');
    mkdirSync(join(root, 'tmp'), { recursive: true });
    const hostFile = join(base, 'host-secret');
    writeFileSync(hostFile, 'secret');
    const dir = makePrivateTmpDir(root, 'dstack-io');
    const host = join(root, dir.virtual);
    symlinkSync(hostFile, join(host, 'out'));
    handOver(dir, user, ['out']);
    expect(statSync(hostFile).uid).toBe(process.getuid!());
    expect(lstatSync(join(host, 'out')).uid).toBe(4321);
  });

  it('is removed without following a link the user put in it, even after the folder itself was swapped', async () => {
    const root = join(base, 'root4');
    mkdirSync(join(root, 'tmp'), { recursive: true });
    const canary = join(base, 'canary');
    mkdirSync(canary);
    writeFileSync(join(canary, 'keep'), 'keep');
    const dir = makePrivateTmpDir(root, 'dstack-io');
    const host = join(root, dir.virtual);
    handOver(dir, user, []);
    symlinkSync(canary, join(host, 'sub'));
    mkdirSync(join(host, 'real'));
    symlinkSync(canary, join(host, 'real', 'deeper'));
    await dir.remove();
    expect(existsSync(host)).toBe(false);
    expect(readFileSync(join(canary, 'keep'), 'utf8')).toBe('keep');
  });
});
