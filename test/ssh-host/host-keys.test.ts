// Host keys: recorded on first contact, checked on every later connect, a changed key refused with the
// host and the known_hosts line named, for the host itself and for a jump host. The file is OpenSSH's
// format: OpenSSH's own client accepts the hosts with it under StrictHostKeyChecking=yes.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileHostKeyStore, SshHost, SshHostKeyChangedError, type SshHostOptions } from '../../packages/backends/src/ssh/index';
import { createTestHosts, type TestHost, type TestHostNetwork } from '../harness/ssh-hosts';
import { mustRun, run, tempDir, waitFor } from '../harness/util';
import { sshHostFor } from './connect';

describe('host keys', () => {
  let net: TestHostNetwork;
  const scratch = tempDir('ssh-keys');
  const file = join(scratch.path, 'ssh', 'fleet_known_hosts');
  const opened: SshHost[] = [];

  const connect = (host: TestHost, extra: Partial<SshHostOptions> = {}) => {
    const conn = sshHostFor(net, host, file, extra);
    opened.push(conn);
    return conn;
  };
  const publicHostKey = (name: string) => readFileSync(join(net.dir, name, 'host_key.pub'), 'utf8').split(' ').slice(0, 2).join(' ');

  /** A new host key for the host, as after a reinstall; sshd reads it on its next connection. */
  async function rekey(host: TestHost) {
    const key = join(net.dir, host.name, 'host_key');
    rmSync(key);
    rmSync(`${key}.pub`);
    await mustRun('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    const pid = readFileSync(join(net.dir, host.name, 'sshd.pid'), 'utf8').trim();
    process.kill(Number(pid), 'SIGHUP'); // sshd re-executes itself with the new key, same pid
    await waitFor(`sshd of ${host.name} to listen again`, async () => {
      const res = await host.exec(`bash -c 'exec 3<>/dev/tcp/127.0.0.1/22 && head -c 4 <&3'`);
      return res.stdout.startsWith('SSH-');
    });
  }

  beforeAll(async () => {
    net = await createTestHosts([{ name: 'h1' }, { name: 'j1' }, { name: 'h3', via: 'j1' }]);
  });

  afterAll(async () => {
    await Promise.all(opened.map((c) => c.close()));
    await net?.destroy();
    scratch.cleanup();
  });

  it('records the key on first contact, in a file OpenSSH itself accepts', async () => {
    const h1 = net.host('h1');
    expect((await connect(h1).exec('true')).code).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe(`${h1.address} ${publicHostKey('h1')}\n`);
    const ssh = await run('ssh', [
      '-F', '/dev/null', '-i', net.keyPath, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes',
      '-o', `UserKnownHostsFile=${file}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'GlobalKnownHostsFile=/dev/null',
      `root@${h1.address}`, 'echo via-openssh',
    ]);
    expect(ssh.stdout.trim()).toBe('via-openssh');
    // The host keys of the jump host and of the host behind it go in the same file.
    expect((await connect(net.host('h3')).exec('true')).code).toBe(0);
    expect(readFileSync(file, 'utf8').trim().split('\n')).toEqual([
      `${h1.address} ${publicHostKey('h1')}`,
      `${net.host('j1').address} ${publicHostKey('j1')}`,
      `${net.host('h3').address} ${publicHostKey('h3')}`,
    ]);
  });

  it('checks the recorded key on later connects and records nothing twice', async () => {
    const before = readFileSync(file, 'utf8');
    await Promise.all([connect(net.host('h1')).exec('true'), connect(net.host('h3')).exec('true'), connect(net.host('h3')).exec('true')]);
    expect(readFileSync(file, 'utf8')).toBe(before);
  });

  it('refuses a host whose key changed, naming the host and the line to remove', async () => {
    const h1 = net.host('h1');
    const before = readFileSync(file, 'utf8');
    await rekey(h1);
    const err = await connect(h1).exec('true').catch((e) => e);
    expect(err).toBeInstanceOf(SshHostKeyChangedError);
    expect(err.message).toContain(`root@${h1.address}:22`);
    expect(err.message).toContain(`${file}:1`);
    expect(err.message).toContain(`ssh-keygen -R '${h1.address}' -f ${file}`);
    expect(readFileSync(file, 'utf8')).toBe(before);
    // After the line is removed (what the message says to do), the new key is recorded.
    writeFileSync(file, before.split('\n').slice(1).join('\n'));
    expect((await connect(h1).exec('true')).code).toBe(0);
    expect(readFileSync(file, 'utf8')).toContain(`${h1.address} ${publicHostKey('h1')}\n`);
  });

  it('refuses a changed key behind the jump host, and a changed jump host', async () => {
    const [j1, h3] = [net.host('j1'), net.host('h3')];
    await rekey(h3);
    const err = await connect(h3).exec('true').catch((e) => e);
    expect(err).toBeInstanceOf(SshHostKeyChangedError);
    expect(err.message).toMatch(new RegExp(`^ssh root@${h3.address}:22 via root@${j1.address}:22: the host key of host root@${h3.address}:22 changed`));
    await rekey(j1);
    const jumpErr = await connect(h3).exec('true').catch((e) => e);
    expect(jumpErr).toBeInstanceOf(SshHostKeyChangedError);
    expect(jumpErr.message).toContain(`the host key of jump host root@${j1.address}:22 changed`);
    const j1Line = readFileSync(file, 'utf8').split('\n').findIndex((l) => l.startsWith(`${j1.address} `)) + 1;
    expect(jumpErr.line).toBe(j1Line);
    expect(jumpErr.message).toContain(`${file}:${j1Line}`);
  });

  it('refuses a host whose recorded entry was tampered with', async () => {
    const other = join(scratch.path, 'tampered_known_hosts');
    const h1 = net.host('h1');
    // Another valid ed25519 key recorded for the host's name.
    writeFileSync(other, `# pinned by hand\n${h1.address} ${publicHostKey('j1')}\n`);
    const err = await connect(h1, { knownHosts: new FileHostKeyStore(other) }).exec('true').catch((e) => e);
    expect(err).toBeInstanceOf(SshHostKeyChangedError);
    expect(err.message).toContain(`${other}:2`);
  });
});
