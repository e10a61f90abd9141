// Faults, each reported as what the user must fix and naming the host: nothing listening, a host or
// jump host cut off (the connect timeout bounds the wait), a link cut while connected (keepalives
// notice it; the next call reconnects), a key the host refuses, an identity file we cannot use.
import { writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import {
  bridgeUnixSocket,
  FileHostKeyStore,
  SshAuthError,
  SshError,
  SshHost,
  SshIdentityError,
  SshUnreachableError,
  type SshHostOptions,
} from '../../packages/backends/src/ssh-client/index';
import { createTestHosts, type TestHost, type TestHostNetwork } from '../harness/ssh-hosts';
import { mustRun, tempDir, waitFor } from '../harness/util';
import { sshHostFor } from './connect';
import { echoClient, startEchoServer } from './grpc-echo';

describe('SshHost faults', () => {
  let net: TestHostNetwork;
  const scratch = tempDir('ssh-faults');
  const opened: SshHost[] = [];

  const connect = (host: TestHost, extra: Partial<SshHostOptions> = {}) => {
    const conn = sshHostFor(net, host, join(scratch.path, 'known_hosts'), extra);
    opened.push(conn);
    return conn;
  };

  /**
   * Pulls the host's cable: its own end of the link goes down, so packets to it vanish without an
   * answer. (The harness's linkDown takes this machine's end down, which also drops the route: traffic
   * to the host would then follow this machine's default route out of the test network.)
   */
  async function cutLink(host: TestHost, state: 'down' | 'up') {
    const ifname = (
      await host.exec(`ip -o -4 addr show | awk '$4 ~ /^${host.address.replace(/\./g, '\\.')}\\// {print $2}'`)
    ).stdout.trim();
    if (!/^\w+$/.test(ifname)) throw new Error(`no single link with ${host.address} in ${host.name}: "${ifname}"`);
    await mustRun('ip', ['-n', host.ns, 'link', 'set', 'dev', ifname, state]);
  }

  beforeAll(async () => {
    net = await createTestHosts([{ name: 'h1' }, { name: 'j1' }, { name: 'h3', via: 'j1' }]);
  });

  afterAll(async () => {
    await Promise.all(opened.map((c) => c.close()));
    await net?.destroy();
    scratch.cleanup();
  });

  it('reports a port with nothing listening as unreachable, naming host and port', async () => {
    const h1 = net.host('h1');
    const err = await connect(h1, { port: 2222 })
      .exec('true')
      .catch((e) => e);
    expect(err).toBeInstanceOf(SshUnreachableError);
    expect(err.message).toMatch(new RegExp(`^ssh root@${h1.address}:2222: host root@${h1.address}:2222 unreachable: ECONNREFUSED`));
  });

  it('gives up on an sshd that never answers, within the connect timeout', async () => {
    // A TCP port that accepts and then says nothing: the SSH banner never comes.
    const sockets: Socket[] = [];
    const silent = createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as AddressInfo).port;
    try {
      const conn = new SshHost({
        hostname: '127.0.0.1',
        port,
        user: 'root',
        identityFile: net.keyPath,
        knownHosts: new FileHostKeyStore(join(scratch.path, 'kh')),
        connectTimeoutMs: 2000,
      });
      opened.push(conn);
      const err = await conn.exec('true').catch((e) => e);
      expect(err).toBeInstanceOf(SshUnreachableError);
      expect(err.message).toBe(`ssh root@127.0.0.1:${port}: no SSH connection to root@127.0.0.1:${port} within 2000 ms`);
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });

  it('gives up on a host whose cable is pulled, within the connect timeout', async () => {
    const h1 = net.host('h1');
    await cutLink(h1, 'down');
    try {
      const t0 = Date.now();
      const err = await connect(h1, { connectTimeoutMs: 2000 })
        .exec('true')
        .catch((e) => e);
      expect(err).toBeInstanceOf(SshUnreachableError);
      // Our deadline, or the kernel giving up on ARP first (EHOSTUNREACH): either way, no TCP minutes.
      expect(err.message).toMatch(
        new RegExp(
          `^ssh root@${h1.address}:22: (no SSH connection to root@${h1.address}:22 within 2000 ms|host root@${h1.address}:22 unreachable: EHOSTUNREACH)`,
        ),
      );
      expect(Date.now() - t0).toBeLessThan(30_000); // generous for a busy machine; TCP alone would take minutes
    } finally {
      await cutLink(h1, 'up');
    }
  });

  it('reports a host the jump host cannot reach, and a jump host that is cut off', async () => {
    const [j1, h3] = [net.host('j1'), net.host('h3')];
    await cutLink(h3, 'down');
    try {
      const err = await connect(h3, { connectTimeoutMs: 3000 })
        .exec('true')
        .catch((e) => e);
      expect(err).toBeInstanceOf(SshUnreachableError);
      expect(err.message).toMatch(
        new RegExp(
          `^ssh root@${h3.address}:22 via root@${j1.address}:22: (root@${h3.address}:22 unreachable from jump host root@${j1.address}:22|no SSH connection .* within 3000 ms)`,
        ),
      );
    } finally {
      await cutLink(h3, 'up');
    }
    await cutLink(j1, 'down');
    try {
      const err = await connect(h3, { connectTimeoutMs: 2000 })
        .exec('true')
        .catch((e) => e);
      expect(err).toBeInstanceOf(SshUnreachableError);
      expect(err.message).toMatch(
        new RegExp(
          `^ssh root@${h3.address}:22 via root@${j1.address}:22: (no SSH connection to root@${h3.address}:22 \\(through jump host root@${j1.address}:22\\) within 2000 ms|jump host root@${j1.address}:22 unreachable: EHOSTUNREACH)`,
        ),
      );
    } finally {
      await cutLink(j1, 'up');
    }
  });

  for (const name of ['h1', 'h3']) {
    it(`notices a cut link to ${name} while idle, fails the command in flight, and reconnects (gRPC through the bridge too) once the link is back`, async () => {
      const host = net.host(name);
      const conn = connect(host, { keepalive: { intervalMs: 500, countMax: 3 } });
      const events: string[] = [];
      conn.on('connect', () => events.push('connect'));
      conn.on('disconnect', (err?: Error) => events.push(`disconnect: ${err?.message ?? ''}`));
      expect((await conn.exec('echo up')).stdout).toBe('up\n');
      const server = await startEchoServer(join(host.homeDir, 'agent.sock'));
      const bridge = await bridgeUnixSocket(conn, '/root/agent.sock', join(scratch.path, `bridge-${name}.sock`));
      const client = echoClient(bridge.localPath);
      onTestFinished(async () => {
        client.close();
        await bridge.close();
        server.close();
      });
      expect((await client.echo(Buffer.from('before'))).toString()).toBe('before');
      const secs = `119.${Math.floor(Math.random() * 1e6)}`;
      const inFlight = conn.exec(`sleep ${secs}`).catch((e) => e);
      await waitFor('the command to run', async () => (await host.exec(`pgrep -f "sleep [1]${secs.slice(1)}"`)).stdout.trim());
      await cutLink(host, 'down');
      try {
        await waitFor('keepalives to notice the cut link', () => !conn.connected, { timeoutMs: 60_000 });
        const err = await inFlight;
        expect(err).toBeInstanceOf(SshUnreachableError);
        expect(err.message).toBe(`${conn.description}: connection lost during \`sleep ${secs}\`: Keepalive timeout`);
        expect(events).toEqual(['connect', 'disconnect: Keepalive timeout']);
      } finally {
        await cutLink(host, 'up');
      }
      // Calls made together after the drop share one reconnect.
      const results = await Promise.all(Array.from({ length: 5 }, (_, i) => conn.exec(`echo ${i}`)));
      expect(results.map((r) => r.stdout)).toEqual(['0\n', '1\n', '2\n', '3\n', '4\n']);
      expect(conn.connects).toBe(2);
      expect(events.filter((e) => e === 'connect')).toHaveLength(2);
      // The gRPC client's old connection died with the SSH one; its next connection is bridged anew.
      await waitFor('a gRPC call through the bridge', async () => (await client.echo(Buffer.from('after'))).toString() === 'after', {
        timeoutMs: 60_000,
      });
      expect(conn.connects).toBe(2);
    });
  }

  it('reports a key the host refuses, for the host and for the jump host', async () => {
    const other = join(scratch.path, 'other_key');
    await mustRun('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const [h1, j1, h3] = [net.host('h1'), net.host('j1'), net.host('h3')];
    const err = await connect(h1, { identityFile: other })
      .exec('true')
      .catch((e) => e);
    expect(err).toBeInstanceOf(SshAuthError);
    expect(err.message).toBe(
      `ssh root@${h1.address}:22: host root@${h1.address}:22 refused the key ${other} for user root (add its public half to ~root/.ssh/authorized_keys there)`,
    );
    const jumpErr = await connect(h3, { proxyJump: { hostname: j1.address, user: 'root', identityFile: other } })
      .exec('true')
      .catch((e) => e);
    expect(jumpErr).toBeInstanceOf(SshAuthError);
    expect(jumpErr.message).toContain(`jump host root@${j1.address}:22 refused the key ${other}`);
  });

  it('explains an identity file it cannot use, naming the file', async () => {
    const h1 = net.host('h1');
    const locked = join(scratch.path, 'locked_key');
    await mustRun('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'secret', '-f', locked]);
    const garbage = join(scratch.path, 'garbage_key');
    writeFileSync(garbage, 'not a key\n');
    const cases: [string, RegExp][] = [
      [join(scratch.path, 'missing_key'), /cannot read identity file .*missing_key: no such file/],
      [locked, /identity file .*locked_key: the key is protected by a passphrase/],
      [`${locked}.pub`, /identity file .*locked_key\.pub: (holds no private key|not a private key)/],
      [garbage, /identity file .*garbage_key: not a private key/],
    ];
    for (const [identityFile, message] of cases) {
      const err = await connect(h1, { identityFile })
        .exec('true')
        .catch((e) => e);
      expect(err).toBeInstanceOf(SshIdentityError);
      expect(err.file).toBe(identityFile);
      expect(err.message).toMatch(message);
      expect(err.message.startsWith(`ssh root@${h1.address}:22: `)).toBe(true);
    }
  });

  it('refuses calls after close', async () => {
    const conn = connect(net.host('h1'));
    expect((await conn.exec('true')).code).toBe(0);
    await conn.close();
    expect(conn.connected).toBe(false);
    const err = await conn.exec('true').catch((e) => e);
    expect(err).toBeInstanceOf(SshError);
    expect(err.kind).toBe('closed');
  });
});
