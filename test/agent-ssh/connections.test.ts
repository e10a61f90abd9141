// Connections rather than sessions: keepalives drop a client that vanished (stopped with SIGSTOP,
// so its TCP stays up but it never answers) and its command is hung up; a connection that carries
// no session counts as activity only once it outlives the grace period (probes never do).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { hostSessionTarget } from '../../packages/agent/src/ssh-server/host-process';
import { run, tempDir, waitFor } from '../harness/util';
import { startServerAndClient, writeClientConfig, type ServerUnderTest } from './client';
import { JOB_ENV } from './suite';

describe('job SSH server connections', () => {
  const scratch = tempDir('agent-ssh-conn');
  const target = hostSessionTarget({ workingDir: scratch.path, env: JOB_ENV });
  let sut: ServerUnderTest | undefined;
  const children: ChildProcess[] = [];

  afterEach(async () => {
    for (const c of children.splice(0)) {
      c.kill('SIGCONT');
      c.kill('SIGKILL');
    }
    await sut?.close();
    sut = undefined;
  });

  const client = (args: string[]) => {
    const child = spawn('ssh', ['-F', sut!.client.config, ...args], { stdio: ['pipe', 'ignore', 'ignore'] });
    children.push(child);
    return child;
  };

  it('drops a client that stopped answering keepalives and hangs up its command', async () => {
    sut = await startServerAndClient(target, { keepaliveIntervalMs: 500, keepaliveCountMax: 2 });
    const name = `dstack-ka-${randomBytes(4).toString('hex')}`;
    const ssh = client(['job', `exec -a ${name} sleep 600`]);
    await waitFor('the exec session', () => sut!.server.activity().execSessions === 1);
    await waitFor('the command to run', async () => (await run('pgrep', ['-f', `^${name}`])).code === 0);
    ssh.kill('SIGSTOP');
    await waitFor('the server to drop the silent client', () => sut!.server.activity().execSessions === 0, { timeoutMs: 60_000 });
    await waitFor('the command to be hung up', async () => (await run('pgrep', ['-f', `^${name}`])).code === 1);
    expect(sut.logs.join('\n')).toMatch(/Keepalive timeout/);
  });

  it('takes RSA and ECDSA client keys once authorized, and drops keys no longer authorized', async () => {
    sut = await startServerAndClient(target);
    for (const [type, bits] of [
      ['rsa', '3072'],
      ['ecdsa', '256'],
    ]) {
      const path = `${sut.client.dir}/id_${type}`;
      await run('ssh-keygen', ['-q', '-t', type, '-b', bits, '-N', '', '-f', path]);
      const cfg = writeClientConfig(sut.client.dir, sut.server.port, sut.server.hostPublicKey, path, `cfg_${type}`);
      expect((await run('ssh', ['-F', cfg, 'job', 'true'])).code).toBe(255);
      sut.server.updateAuthorizedKeys([sut.client.publicKey, readFileSync(`${path}.pub`, 'utf8')]);
      const res = await run('ssh', ['-F', cfg, 'job', 'echo "$FOO"']);
      expect(res.stdout).toBe('from-the-job\n');
    }
    sut.server.updateAuthorizedKeys([]);
    expect((await sut.client.ssh(['job', 'true'])).code).toBe(255);
  });

  it('does not count a short connection without sessions', async () => {
    sut = await startServerAndClient(target, { connectionGraceMs: 600_000 });
    await waitFor('two idle seconds', () => sut!.server.activity().inactiveSeconds >= 2);
    const probe = client(['-N', 'job']);
    await waitFor('the probe to log in', () => sut!.logs.some((l) => l.includes('connected')));
    probe.kill('SIGTERM');
    await new Promise((r) => probe.once('exit', r));
    // The idle clock was not reset by the probe.
    expect(sut.server.activity().inactiveSeconds).toBeGreaterThanOrEqual(2);
  });

  it('counts a connection that outlives the grace period, until it closes', async () => {
    sut = await startServerAndClient(target, { connectionGraceMs: 300 });
    await waitFor('an idle second', () => sut!.server.activity().inactiveSeconds >= 1);
    const tunnel = client(['-N', 'job']);
    await waitFor('the held connection to count', () => sut!.server.activity().inactiveSeconds === 0);
    tunnel.kill('SIGTERM');
    await new Promise((r) => tunnel.once('exit', r));
    await waitFor('idle time counting again from the close', () => sut!.server.activity().inactiveSeconds >= 1);
    expect(sut.server.activity()).toMatchObject({ shellSessions: 0, execSessions: 0, sftpSessions: 0, portForwards: 0 });
  });
});
