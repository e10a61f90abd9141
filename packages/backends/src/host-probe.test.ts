// The probes run real shell commands on this machine (LocalHost); a PATH of chosen tools (and small
// stand-ins for `uname`, `id` and `sudo`, where this machine's answer is fixed) picks the branch.
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { arch, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { canSudo, detectArch, fileSha256, hasSystemd, homeDir } from './host-probe';
import { LocalHost } from './local/local-host';

const dir = mkdtempSync(join(tmpdir(), 'dstack-probe-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A LocalHost whose PATH holds only `sh`, the named tools (links to this machine's) and scripts. */
function hostWith(name: string, tools: string[], scripts: Record<string, string> = {}, env: NodeJS.ProcessEnv = {}): LocalHost {
  const bin = join(dir, name);
  mkdirSync(bin, { recursive: true });
  for (const tool of ['sh', ...tools]) {
    const real = ['/usr/bin', '/bin'].map((d) => join(d, tool)).find((p) => existsSync(p));
    if (!real) throw new Error(`${tool} is not installed here`);
    symlinkSync(real, join(bin, tool));
  }
  for (const [script, body] of Object.entries(scripts)) {
    writeFileSync(join(bin, script), `#!/bin/sh\n${body}\n`);
    chmodSync(join(bin, script), 0o755);
  }
  return new LocalHost({ PATH: bin, HOME: '/root', ...env });
}

const file = join(dir, 'payload');
writeFileSync(file, 'agent bytes');
const sha = createHash('sha256').update('agent bytes').digest('hex');

describe('fileSha256', () => {
  it('uses whichever way the host has: sha256sum, shasum, openssl, busybox, python3, perl; empty for a missing file', async () => {
    expect(await fileSha256(new LocalHost(), file)).toBe(sha);
    expect(await fileSha256(new LocalHost(), join(dir, 'missing'))).toBe('');
    for (const tool of ['sha256sum', 'shasum', 'openssl', 'busybox', 'python3', 'perl']) {
      expect(await fileSha256(hostWith(`only-${tool}`, [tool]), file), tool).toBe(sha);
    }
  });

  it('passes over a way that is there but fails', async () => {
    const broken = hostWith('broken', ['openssl'], { sha256sum: 'echo "sha256sum: broken" >&2; exit 1', busybox: 'exit 127' });
    expect(await fileSha256(broken, file)).toBe(sha);
  });

  it('is null when the host has no way to hash it (the caller decides what else to trust)', async () => {
    expect(await fileSha256(hostWith('none', []), file)).toBeNull();
    expect(await fileSha256(hostWith('none-broken', [], { sha256sum: 'exit 1', perl: 'exit 2' }), file)).toBeNull();
  });

  it('takes paths with spaces and quotes', async () => {
    const odd = join(dir, "it's a file");
    writeFileSync(odd, 'agent bytes');
    expect(await fileSha256(new LocalHost(), odd)).toBe(sha);
  });
});

describe('detectArch', () => {
  it("maps uname -m to Node's names and refuses others", async () => {
    expect(await detectArch(new LocalHost())).toBe(arch());
    expect(await detectArch(hostWith('aarch64', [], { uname: 'echo aarch64' }))).toBe('arm64');
    expect(await detectArch(hostWith('amd64', [], { uname: 'echo amd64' }))).toBe('x64');
    await expect(detectArch(hostWith('armv7l', [], { uname: 'echo armv7l' }))).rejects.toThrow(
      'this machine: unsupported CPU architecture "armv7l" (dstack\'s agent runs on x86_64 and aarch64)',
    );
  });
});

describe('canSudo, hasSystemd, homeDir', () => {
  it('answers for root, and for a user with and without passwordless sudo', async () => {
    expect(await canSudo(new LocalHost())).toBe(process.getuid?.() === 0 || (await new LocalHost().exec('sudo -n true')).code === 0);
    expect(await canSudo(hostWith('user-sudo', [], { id: 'echo 1000', sudo: 'exit 0' }))).toBe(true);
    expect(await canSudo(hostWith('user-nosudo', [], { id: 'echo 1000', sudo: 'echo "a password is required" >&2; exit 1' }))).toBe(false);
    expect(await canSudo(hostWith('user-nosudo-bin', [], { id: 'echo 1000' }))).toBe(false);
  });

  it('tells whether systemd runs the host', async () => {
    const booted = (await new LocalHost().exec('[ -d /run/systemd/system ]')).code === 0;
    expect(await hasSystemd(new LocalHost())).toBe(booted);
    expect(await hasSystemd(hostWith('no-systemctl', []))).toBe(false);
  });

  it("reads the user's home directory", async () => {
    expect(await homeDir(hostWith('home', [], {}, { HOME: '/home/ml user' }))).toBe('/home/ml user');
  });
});
