// The job's SSH server listens from SubmitJob on, so the daemon can write the Host block as soon as
// the job starts and `ssh NAME` connects while the container is still being made: a session that
// arrives early waits until the job is ready (container up, profile written) and then runs; one
// whose job is stopped first ends with a one-line error. The DockerGate holds the container create
// so the test knows the session came first.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { JobState, type Activity } from '@dstack/core/gen/agent';
import { DockerGate } from '../harness/docker-gate';
import { mustRun, run, tempDir, waitFor } from '../harness/util';
import { startAgent, uniqueId, type AgentProcess } from './agent';
import { uploadTree } from './trees';

describe('SSH before the container is up', () => {
  let agent: AgentProcess;
  let cleanup: () => Promise<void>;
  let gate: DockerGate;
  const keys = tempDir('early-ssh-key');
  const key = join(keys.path, 'id');
  let pub: string;

  beforeAll(async () => {
    await mustRun('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    pub = (await mustRun('cat', [`${key}.pub`])).stdout.trim();
    gate = new DockerGate(inject('dockerHost').replace(/^unix:\/\//, ''));
    await gate.start();
    ({ agent, cleanup } = await startAgent({ DOCKER_HOST: gate.dockerHost }));
    agent.subscribe();
  });
  afterAll(async () => {
    await cleanup?.();
    await gate?.stop();
    keys.cleanup();
  });

  const ssh = (port: number, command: string) =>
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
        'StrictHostKeyChecking=no',
        '-o',
        'UserKnownHostsFile=/dev/null',
        '-o',
        'LogLevel=ERROR',
        'root@127.0.0.1',
        command,
      ],
      { timeoutMs: 120_000 },
    );

  /** A docker job that waits for its code, with its container create held; returns its SSH port once it is starting. */
  async function startingJob(jobId: string): Promise<number> {
    gate.hold(/^POST \/v[\d.]+\/containers\/create/);
    await agent.submit({
      jobId,
      runtime: 'docker',
      image: inject('debianImage'),
      expectCode: true,
      authorizedKeys: [pub],
      env: { GREETING: 'hi' },
    });
    const waiting = await agent.waitState(jobId, JobState.JOB_STATE_WAITING_CODE);
    // The port and host key are known before the code (and the container) are.
    expect(waiting.status!.sshPort).toBeGreaterThan(0);
    expect(waiting.status!.sshHostKey).toMatch(/^ssh-ed25519 /);
    await uploadTree(agent, jobId, { 'hello.txt': { content: 'hello from the repo\n' } });
    const starting = await agent.waitState(jobId, JobState.JOB_STATE_STARTING);
    expect(await gate.waitHeld(1)).toHaveLength(1);
    return starting.status!.sshPort;
  }

  const execSessions = (jobId: string) =>
    agent.waitEvent(
      `an exec session of ${jobId}`,
      (e) => e.jobId === jobId && e.payload?.$case === 'activity' && (e.payload.value as Activity).execSessions === 1,
    );

  it('a session that comes first waits for the container, then runs with the code and the env', async () => {
    const jobId = uniqueId('early');
    const port = await startingJob(jobId);
    const session = ssh(port, 'cat /workflow/hello.txt; echo "$GREETING"');
    await execSessions(jobId);
    gate.release();
    const res = await session;
    expect(res.stderr).toBe('');
    expect(res.stdout).toBe('hello from the repo\nhi\n');
    expect(res.code).toBe(0);
    await agent.waitState(jobId, JobState.JOB_STATE_RUNNING);
    await agent.removeJob(jobId);
  });

  it('a session waiting on a job that is stopped ends with the reason', async () => {
    const jobId = uniqueId('early-stop');
    const port = await startingJob(jobId);
    const session = ssh(port, 'echo never');
    await execSessions(jobId);
    const stopping = agent.stopJob(jobId, true);
    await waitFor('the job to be stopping', async () => (await agent.getJob(jobId)).status!.state === JobState.JOB_STATE_STOPPING);
    gate.release();
    await stopping;
    const res = await session;
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(/^dstack: cannot start the session: the job is stopping: abort requested/);
    await agent.removeJob(jobId);
  });
});
