// A flood of half-open connections to one job's SSH port, against the built agent with two jobs:
// 500 connections that never authenticate (half send nothing, half only the SSH banner). The job
// holds at most max_startups of them and closes the rest at accept, so the agent's descriptors never
// pile up; the held ones are closed when the login grace time (short here, through the JobSpec)
// runs out. The other job's SSH works all along. A fresh `ssh` to the flooded job is refused while
// its unauthenticated slots are full, as sshd's MaxStartups refuses it, and works once they are
// freed. The agent's gRPC answers during the flood.
import { readdirSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { JobState, SshServerLimits } from '@dstack/core/gen/agent';
import { DEFAULT_SSH_SERVER_LIMITS } from '@dstack/core/ssh-server-limits';
import { mustRun, run, tempDir, waitFor } from '../harness/util';
import { startAgent, uniqueId, type AgentProcess } from './agent';

const FLOOD = 500;
const GRACE_SECONDS = 8;
const { maxStartups } = DEFAULT_SSH_SERVER_LIMITS;

interface FloodSocket {
  socket: Socket;
  connected: boolean;
  closed: boolean;
}

/** Opens n connections that never authenticate and never close by themselves; odd ones send a banner. */
function flood(port: number, n: number): FloodSocket[] {
  return Array.from({ length: n }, (_, i) => {
    const f: FloodSocket = { socket: connect(port, '127.0.0.1'), connected: false, closed: false };
    f.socket.on('connect', () => {
      f.connected = true;
      if (i % 2) f.socket.write('SSH-2.0-flood_1.0\r\n');
    });
    // A reset from the server (it closed with our banner unread) is still the server closing.
    f.socket.on('error', () => {});
    f.socket.on('data', () => {});
    f.socket.on('close', () => (f.closed = true));
    return f;
  });
}

describe('a flood of half-open connections to one job', () => {
  let agent: AgentProcess;
  let cleanup: () => Promise<void>;
  const keys = tempDir('ssh-flood');
  const key = join(keys.path, 'id');

  beforeAll(async () => {
    await mustRun('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    ({ agent, cleanup } = await startAgent({ DOCKER_HOST: inject('dockerHost') }));
  });
  afterAll(async () => {
    await cleanup?.();
    keys.cleanup();
  });

  /** A host job with the test's key; returns `ssh` to it with its host key pinned. */
  async function startJob(name: string, limits?: Partial<SshServerLimits>) {
    const jobId = uniqueId(name);
    const pub = (await mustRun('cat', [`${key}.pub`])).stdout.trim();
    await agent.submit({ jobId, runtime: 'host', authorizedKeys: [pub], sshServer: limits && SshServerLimits.fromPartial(limits) });
    const { status } = await agent.waitState(jobId, JobState.JOB_STATE_RUNNING);
    const port = status!.sshPort;
    const knownHosts = join(keys.path, `${name}.known_hosts`);
    writeFileSync(knownHosts, `[127.0.0.1]:${port} ${status!.sshHostKey}\n`);
    const ssh = (command: string) =>
      run(
        'ssh',
        [
          '-F',
          '/dev/null',
          '-i',
          key,
          '-p',
          String(port),
          '-o',
          'IdentitiesOnly=yes',
          '-o',
          'BatchMode=yes',
          '-o',
          `UserKnownHostsFile=${knownHosts}`,
          '-o',
          'StrictHostKeyChecking=yes',
          '-o',
          'LogLevel=ERROR',
          'root@127.0.0.1',
          command,
        ],
        { timeoutMs: 60_000 },
      );
    return { port, ssh };
  }

  const agentFds = () => readdirSync(`/proc/${agent.proc!.pid}/fd`).length;

  it('holds at most max_startups, closes all 500 by the grace time, and the other job works all along', async () => {
    const a = await startJob('flooded', { loginGraceTimeSeconds: GRACE_SECONDS });
    const b = await startJob('other');
    expect((await a.ssh('true')).code).toBe(0);
    expect((await b.ssh('true')).code).toBe(0);
    const fdsBefore = agentFds();

    const sockets = flood(a.port, FLOOD);
    const open = () => sockets.filter((f) => !f.closed).length;
    // The other job's SSH, over and over while the flood lasts.
    const other = (async () => {
      const codes: Array<number | null> = [];
      while (codes.length < 3 || open() > 0) codes.push((await b.ssh('true')).code);
      return codes;
    })();

    await waitFor('all but the held ones to be closed at accept', () => open() <= maxStartups, { timeoutMs: 60_000 });
    // The agent holds a descriptor for a held connection only (and a few for the other job's ssh).
    expect(agentFds()).toBeLessThan(fdsBefore + maxStartups + 30);
    // The agent's gRPC answers too.
    expect((await agent.handshake()).agentVersion).toBeTruthy();

    // sshd with MaxStartups full refuses a new connection at once; so does the job.
    const fresh = await a.ssh('true');
    const stillHeld = open();
    if (stillHeld === maxStartups) expect(fresh.code, 'a fresh ssh while every unauthenticated slot was held').toBe(255);

    await waitFor('every flood connection to be closed by the server', () => open() === 0, { timeoutMs: GRACE_SECONDS * 1000 + 60_000 });
    expect(sockets.filter((f) => f.connected)).toHaveLength(FLOOD);
    expect((await other).filter((code) => code !== 0)).toEqual([]);

    await waitFor('the agent to hold no more descriptors than before', () => agentFds() <= fdsBefore + 2);
    expect((await a.ssh('echo ok')).stdout).toBe('ok\n');

    // Each reason is logged, a flood of one reason in a line or two.
    const log = agent.log().split('\n');
    const startupLines = log.filter((l) => l.includes('max_startups'));
    expect(startupLines[0]).toMatch(
      /ssh: 127\.0\.0\.1:\d+: closed at accept: 10 unauthenticated connections already open \(max_startups\)$/,
    );
    expect(startupLines.length).toBeLessThan(5);
    expect(log.some((l) => /ssh: 127\.0\.0\.1:\d+: closed: not authenticated within 8s \(login_grace_time\)$/.test(l))).toBe(true);
  });
});
