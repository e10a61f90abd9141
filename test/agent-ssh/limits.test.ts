// sshd's limits on the job SSH server, with OpenSSH's client: a client with too many keys is cut
// off at max_auth_tries as sshd does it (a disconnect instead of the last failure), one more session
// than max_sessions on a multiplexed connection is refused, one more connection than
// max_connections is closed at accept. (The flood of half-open connections is test/agent/ssh-flood.)
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hostSessionTarget } from '../../packages/agent/src/ssh-server/host-process';
import { run, tempDir, waitFor } from '../harness/util';
import { makeKey, startServerAndClient, type ServerUnderTest } from './client';
import { JOB_ENV } from './suite';

describe('job SSH server limits', () => {
  const scratch = tempDir('agent-ssh-limits');
  const target = hostSessionTarget({ workingDir: scratch.path, env: JOB_ENV });
  let sut: ServerUnderTest | undefined;
  const children: ChildProcess[] = [];

  afterEach(async () => {
    for (const c of children.splice(0)) c.kill('SIGKILL');
    await sut?.close();
    sut = undefined;
  });

  const background = (args: string[]) => {
    const child = spawn('ssh', ['-F', sut!.client.config, ...args], { stdio: ['pipe', 'ignore', 'ignore'] });
    children.push(child);
    return child;
  };

  /** ssh with only these identity files, offered in order, and -v to see what it offered. */
  const sshWithKeys = (keyPaths: string[]) => {
    const knownHosts = join(sut!.client.dir, 'ssh_config.known_hosts');
    return run(
      'ssh',
      [
        '-F',
        '/dev/null',
        '-v',
        '-p',
        String(sut!.server.port),
        '-o',
        'IdentitiesOnly=yes',
        '-o',
        'BatchMode=yes',
        '-o',
        `UserKnownHostsFile=${knownHosts}`,
        '-o',
        'StrictHostKeyChecking=yes',
        ...keyPaths.flatMap((k) => ['-i', k]),
        'root@127.0.0.1',
        'true',
      ],
      { timeoutMs: 120_000 },
    );
  };
  const offered = (stderr: string) => stderr.split('\n').filter((l) => l.includes('Offering public key')).length;

  it('disconnects a client at its 6th failed attempt: a 7th key is never offered, a right 6th key gets in', async () => {
    sut = await startServerAndClient(target);
    const wrong = await Promise.all([1, 2, 3, 4, 5, 6, 7].map((i) => makeKey(sut!.client.dir, `wrong${i}`)));
    const cut = await sshWithKeys(wrong.map((k) => k.path));
    expect(cut.code).toBe(255);
    expect(offered(cut.stderr)).toBe(6);
    expect(cut.stderr).toMatch(/Received disconnect from 127\.0\.0\.1/);
    expect(cut.stderr).not.toMatch(/Permission denied/);
    expect(sut.logs.join('\n')).toMatch(
      /^ssh: root@127\.0\.0\.1: disconnected after 6 failed authentication attempts \(max_auth_tries\)$/m,
    );

    const ok = await sshWithKeys([...wrong.slice(0, 5).map((k) => k.path), sut.client.keyPath]);
    expect(ok.stderr).not.toMatch(/Received disconnect/);
    expect(ok.code).toBe(0);
    expect(offered(ok.stderr)).toBe(6);
  });

  it('takes max_auth_tries from its limits', async () => {
    sut = await startServerAndClient(target, { limits: { maxAuthTries: 2 } });
    const wrong = await Promise.all([1, 2, 3].map((i) => makeKey(sut!.client.dir, `wrong${i}`)));
    const cut = await sshWithKeys(wrong.map((k) => k.path));
    expect(cut.code).toBe(255);
    expect(offered(cut.stderr)).toBe(2);
  });

  it('refuses one more session than max_sessions on a multiplexed connection, until one closes', async () => {
    sut = await startServerAndClient(target, { limits: { maxSessions: 2 } });
    const control = join(sut.client.dir, 'mux.sock');
    const mux = ['-o', `ControlPath=${control}`];
    background([...mux, '-o', 'ControlMaster=yes', '-N', 'job']);
    await waitFor(
      'the master connection',
      async () => (await run('ssh', ['-F', sut!.client.config, ...mux, '-O', 'check', 'job'])).code === 0,
    );
    const held = [background([...mux, 'job', 'sleep 600']), background([...mux, 'job', 'sleep 600'])];
    await waitFor('two sessions', () => sut!.server.activity().execSessions === 2);
    // OpenSSH's mux client says so, then falls back to a connection of its own.
    const refused = await sut.client.ssh([...mux, 'job', 'true']);
    expect(refused.stderr).toMatch(/session request failed: Session open refused by peer/);
    expect(sut.logs.join('\n')).toMatch(
      /^ssh: root@127\.0\.0\.1: session refused: 2 sessions already open on the connection \(max_sessions\)$/m,
    );
    held[0].kill('SIGTERM');
    await waitFor('one session', () => sut!.server.activity().execSessions === 1);
    const again = await sut.client.ssh([...mux, 'job', 'echo "$FOO"']);
    expect(again.stderr).toBe('');
    expect(again.stdout).toBe('from-the-job\n');
  });

  it('closes one more connection than max_connections at accept, logged ones included', async () => {
    sut = await startServerAndClient(target, { limits: { maxConnections: 2 } });
    background(['-N', 'job']);
    background(['-N', 'job']);
    await waitFor('two logged-in connections', () => sut!.logs.filter((l) => l.endsWith(' connected')).length === 2);
    const refused = await sut.client.ssh(['job', 'true']);
    expect(refused.code).toBe(255);
    expect(sut.logs.join('\n')).toMatch(/^ssh: 127\.0\.0\.1:\d+: closed at accept: 2 connections already open \(max_connections\)$/m);
    children[0].kill('SIGTERM');
    await waitFor('a free slot', async () => (await sut!.client.ssh(['job', 'true'])).code === 0);
  });
});
