// Host keys, never trusted on first use: an unknown key is refused with the host and its fingerprint
// (OpenSSH's form) and nothing recorded; a key the user accepted is recorded and checked on every later
// connect; a changed key is refused with both fingerprints and the known_hosts line named, for the host
// itself and for a jump host; a `host_key:` pin is the only key a host may present; the user's own
// ~/.ssh/known_hosts counts. A scan reads a host's key without logging in. The file is OpenSSH's format:
// OpenSSH's own client accepts the hosts with it under StrictHostKeyChecking=yes.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FileHostKeyStore,
  scanHostKey,
  type SshHost,
  SshHostKeyChangedError,
  SshHostKeyMismatchError,
  SshHostKeyUnknownError,
  type SshHostOptions,
} from '../../packages/backends/src/ssh-client/index';
import { createTestHosts, type TestHost, type TestHostNetwork } from '../harness/ssh-hosts';
import { mustRun, run, tempDir, waitFor } from '../harness/util';
import { acceptedKeysOf, publicHostKey, sshHostFor } from './connect';

describe('host keys', () => {
  let net: TestHostNetwork;
  const scratch = tempDir('ssh-keys');
  const file = join(scratch.path, 'ssh', 'fleet_known_hosts');
  const opened: SshHost[] = [];

  /** A connection that was told nothing about the hosts' keys unless `extra` says so. */
  const connect = (host: TestHost, extra: Partial<SshHostOptions> = {}) => {
    const conn = sshHostFor(net, host, file, { acceptedKeys: [], ...extra });
    opened.push(conn);
    return conn;
  };
  const pub = (name: string) => publicHostKey(net, net.host(name));
  /** ssh-keygen's own fingerprint of the host's key: "SHA256:..." and "ED25519". */
  const keygenFingerprint = async (name: string) => {
    const out = (await mustRun('ssh-keygen', ['-l', '-f', join(net.dir, name, 'host_key.pub')])).stdout.trim();
    const [, fp, kind] = /^\d+ (SHA256:\S+) .* \((\w+)\)$/.exec(out)!;
    return `${kind} key ${fp}`;
  };

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

  it('refuses an unknown key on first contact, naming the host and its fingerprint, and records nothing', async () => {
    const h1 = net.host('h1');
    const err = await connect(h1)
      .exec('true')
      .catch((e) => e);
    expect(err).toBeInstanceOf(SshHostKeyUnknownError);
    expect(err.message).toContain(
      `the authenticity of host root@${h1.address}:22 can't be established: it presents ${await keygenFingerprint('h1')}`,
    );
    expect(err.key).toBe(pub('h1'));
    expect(existsSync(file)).toBe(false);
    // Through a jump host, the jump host's key is the first question.
    const viaErr = await connect(net.host('h3'))
      .exec('true')
      .catch((e) => e);
    expect(viaErr).toBeInstanceOf(SshHostKeyUnknownError);
    expect(viaErr.message).toContain(
      `the authenticity of jump host root@${net.host('j1').address}:22 can't be established: it presents ${await keygenFingerprint('j1')}`,
    );
    expect(existsSync(file)).toBe(false);
  });

  it('scans a host key without logging in, directly and through a checked jump host', async () => {
    const [h1, j1, h3] = ['h1', 'j1', 'h3'].map((n) => net.host(n));
    const opts = {
      knownHosts: new FileHostKeyStore(file),
      keepalive: { intervalMs: 10_000, countMax: 3 },
      timeoutMs: 15_000,
      description: 'scan',
    };
    const direct = await scanHostKey({ ...opts, target: { hostname: h1.address, port: 22, user: 'nobody-at-all' } });
    expect(`${direct.type} ${direct.data.toString('base64')}`).toBe(pub('h1'));
    const jumpHop = {
      endpoint: { hostname: j1.address, port: 22, user: 'root' },
      identityFile: net.keyPath,
      key: readFileSync(net.keyPath),
    };
    // The jump host is logged in to, so its key must be trusted first.
    await expect(scanHostKey({ ...opts, target: { hostname: h3.address, port: 22, user: 'root' }, jump: jumpHop })).rejects.toBeInstanceOf(
      SshHostKeyUnknownError,
    );
    const behind = await scanHostKey({
      ...opts,
      target: { hostname: h3.address, port: 22, user: 'root' },
      jump: { ...jumpHop, trust: { pinned: { type: 'ssh-ed25519', data: Buffer.from(pub('j1').split(' ')[1], 'base64') } } },
    });
    expect(`${behind.type} ${behind.data.toString('base64')}`).toBe(pub('h3'));
    expect(existsSync(file)).toBe(false);
  });

  it('records a key the user accepted, in a file OpenSSH itself accepts', async () => {
    const h1 = net.host('h1');
    expect((await connect(h1, { acceptedKeys: acceptedKeysOf(net, h1) }).exec('true')).code).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe(`${h1.address} ${pub('h1')}\n`);
    const ssh = await run('ssh', [
      '-F',
      '/dev/null',
      '-i',
      net.keyPath,
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      'BatchMode=yes',
      '-o',
      `UserKnownHostsFile=${file}`,
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      'GlobalKnownHostsFile=/dev/null',
      `root@${h1.address}`,
      'echo via-openssh',
    ]);
    expect(ssh.stdout.trim()).toBe('via-openssh');
    // The host keys of the jump host and of the host behind it go in the same file.
    expect((await connect(net.host('h3'), { acceptedKeys: acceptedKeysOf(net, net.host('h3')) }).exec('true')).code).toBe(0);
    expect(readFileSync(file, 'utf8').trim().split('\n')).toEqual([
      `${h1.address} ${pub('h1')}`,
      `${net.host('j1').address} ${pub('j1')}`,
      `${net.host('h3').address} ${pub('h3')}`,
    ]);
  });

  it('checks the recorded key on later connects (nothing accepted any more) and records nothing twice', async () => {
    const before = readFileSync(file, 'utf8');
    await Promise.all([connect(net.host('h1')).exec('true'), connect(net.host('h3')).exec('true'), connect(net.host('h3')).exec('true')]);
    expect(readFileSync(file, 'utf8')).toBe(before);
  });

  it('refuses a host whose key changed, with both fingerprints and the line to remove, even when the new key is offered as accepted', async () => {
    const h1 = net.host('h1');
    const before = readFileSync(file, 'utf8');
    const old = await keygenFingerprint('h1');
    await rekey(h1);
    const err = await connect(h1, { acceptedKeys: acceptedKeysOf(net, h1) })
      .exec('true')
      .catch((e) => e);
    expect(err).toBeInstanceOf(SshHostKeyChangedError);
    expect(err.message).toBe(
      `ssh root@${h1.address}:22: REMOTE HOST IDENTIFICATION HAS CHANGED for host root@${h1.address}:22: it presents ${await keygenFingerprint('h1')}, ` +
        `but ${file}:1 has ${old} for it; someone may be intercepting the connection. ` +
        `If the host was reinstalled, remove that line (ssh-keygen -R '${h1.address}' -f ${file}) and apply again`,
    );
    expect(readFileSync(file, 'utf8')).toBe(before);
    // After the line is removed (what the message says to do) and the new key accepted, it is recorded.
    await mustRun('ssh-keygen', ['-R', h1.address, '-f', file]);
    expect(
      await connect(h1)
        .exec('true')
        .catch((e) => e),
    ).toBeInstanceOf(SshHostKeyUnknownError);
    expect((await connect(h1, { acceptedKeys: acceptedKeysOf(net, h1) }).exec('true')).code).toBe(0);
    expect(readFileSync(file, 'utf8')).toContain(`${h1.address} ${pub('h1')}\n`);
  });

  it('refuses a changed key behind the jump host, and a changed jump host', async () => {
    const [j1, h3] = [net.host('j1'), net.host('h3')];
    await rekey(h3);
    const err = await connect(h3)
      .exec('true')
      .catch((e) => e);
    expect(err).toBeInstanceOf(SshHostKeyChangedError);
    expect(err.message).toMatch(
      new RegExp(
        `^ssh root@${h3.address}:22 via root@${j1.address}:22: REMOTE HOST IDENTIFICATION HAS CHANGED for host root@${h3.address}:22`,
      ),
    );
    await rekey(j1);
    const jumpErr = await connect(h3)
      .exec('true')
      .catch((e) => e);
    expect(jumpErr).toBeInstanceOf(SshHostKeyChangedError);
    expect(jumpErr.message).toContain(`REMOTE HOST IDENTIFICATION HAS CHANGED for jump host root@${j1.address}:22`);
    const j1Line =
      readFileSync(file, 'utf8')
        .split('\n')
        .findIndex((l) => l.startsWith(`${j1.address} `)) + 1;
    expect(jumpErr.line).toBe(j1Line);
    expect(jumpErr.message).toContain(`${file}:${j1Line}`);
  });

  it('takes a host_key pin as the only key: the right one connects without any known_hosts entry, another is refused with both fingerprints', async () => {
    const h1 = net.host('h1');
    const empty = new FileHostKeyStore(join(scratch.path, 'pinned_known_hosts'));
    expect((await connect(h1, { knownHosts: empty, hostKey: pub('h1') }).exec('true')).code).toBe(0);
    expect(existsSync(empty.file)).toBe(false);
    const wrong = pub('j1');
    const err = await connect(h1, { knownHosts: empty, hostKey: wrong, acceptedKeys: acceptedKeysOf(net, h1) })
      .exec('true')
      .catch((e) => e);
    expect(err).toBeInstanceOf(SshHostKeyMismatchError);
    expect(err.message).toContain(
      `the host key of host root@${h1.address}:22 is not its host_key: the fleet file pins ${await keygenFingerprint('j1')}, the host presents ${await keygenFingerprint('h1')}`,
    );
    // A pinned jump host too.
    const h3 = net.host('h3');
    const jumpErr = await connect(h3, {
      knownHosts: empty,
      hostKey: pub('h3'),
      proxyJump: { hostname: net.host('j1').address, user: 'root', identityFile: net.keyPath, hostKey: pub('h1') },
    })
      .exec('true')
      .catch((e) => e);
    expect(jumpErr).toBeInstanceOf(SshHostKeyMismatchError);
    expect(jumpErr.message).toContain(`the host key of jump host root@${net.host('j1').address}:22 is not its host_key`);
  });

  it("counts the user's ~/.ssh/known_hosts: a key there is known, another key there is a changed host", async () => {
    const h1 = net.host('h1');
    const userFile = join(scratch.path, 'user_known_hosts');
    const ours = join(scratch.path, 'ours_known_hosts');
    const store = new FileHostKeyStore(ours, { readOnly: () => [userFile] });
    writeFileSync(userFile, `${h1.address} ${pub('h1')}\n`);
    expect((await connect(h1, { knownHosts: store }).exec('true')).code).toBe(0);
    expect(existsSync(ours)).toBe(false);
    writeFileSync(userFile, `# mine\n${h1.address} ${pub('j1')}\n`);
    const err = await connect(h1, { knownHosts: store, acceptedKeys: acceptedKeysOf(net, h1) })
      .exec('true')
      .catch((e) => e);
    expect(err).toBeInstanceOf(SshHostKeyChangedError);
    expect(err.message).toContain(`REMOTE HOST IDENTIFICATION HAS CHANGED for host root@${h1.address}:22`);
    expect(err.message).toContain(`${userFile}:2 has ${await keygenFingerprint('j1')}`);
    expect(existsSync(ours)).toBe(false);
  });
});
