// Events (snapshot, then live; SSH activity), logs read by time and past the size cap, and Shutdown.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { JobState, type Activity } from '@dstack/core/gen/agent';
import { mustRun, run, tempDir, waitFor } from '../harness/util';
import { startAgent, uniqueId, type AgentProcess } from './agent';
import { pgrepJob } from './job-suite';

describe('events, logs and shutdown', () => {
  let agent: AgentProcess;
  let cleanup: () => Promise<void>;
  const keys = tempDir('lifecycle-key');
  const key = join(keys.path, 'id');

  beforeAll(async () => {
    await mustRun('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    // A small cap, so that a chatty init overflows it.
    ({ agent, cleanup } = await startAgent({ DOCKER_HOST: inject('dockerHost') }, ['--log-cap', '16384']));
  });
  afterAll(async () => {
    await cleanup?.();
    keys.cleanup();
  });

  it('starts an Events stream with a snapshot of each job, then SSH activity as it happens', async () => {
    const jobId = uniqueId('events');
    const pub = (await mustRun('cat', [`${key}.pub`])).stdout.trim();
    await agent.submit({ jobId, runtime: 'host', authorizedKeys: [pub] });
    const job = await agent.waitState(jobId, JobState.JOB_STATE_RUNNING);
    agent.subscribe(jobId);
    const snap = await agent.waitEvent('the snapshot', (e) => e.jobId === jobId && e.payload?.$case === 'activity');
    expect(agent.events[0].payload).toMatchObject({ $case: 'status', value: { jobId, state: JobState.JOB_STATE_RUNNING } });
    expect((snap.payload!.value as Activity).execSessions).toBe(0);

    const session = run(
      'ssh',
      [
        '-F',
        '/dev/null',
        '-i',
        key,
        '-p',
        String(job.status!.sshPort),
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
        'sleep 2; echo done',
      ],
      { timeoutMs: 60_000 },
    );
    await agent.waitEvent('an exec session in the activity', (e) => e.payload?.$case === 'activity' && e.payload.value.execSessions === 1);
    expect((await session).stdout).toBe('done\n');
    const closed = await agent.waitEvent(
      'the session closed',
      (e) =>
        e.payload?.$case === 'activity' &&
        e.payload.value.execSessions === 0 &&
        agent.events.indexOf(e) > agent.events.findIndex((x) => x.payload?.$case === 'activity' && x.payload.value.execSessions === 1),
    );
    expect((closed.payload!.value as Activity).inactiveSeconds).toBe(0);
    // Subscribed to one job: no other job's events.
    expect(agent.events.every((e) => e.jobId === jobId)).toBe(true);
  });

  it('UpdateJob replaces the authorized keys of a running job', async () => {
    const other = join(keys.path, 'other');
    await mustRun('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const jobId = uniqueId('keys');
    await agent.submit({ jobId, runtime: 'host', authorizedKeys: [(await mustRun('cat', [`${key}.pub`])).stdout.trim()] });
    const job = await agent.waitState(jobId, JobState.JOB_STATE_RUNNING);
    const sshWith = (k: string) =>
      run(
        'ssh',
        [
          '-F',
          '/dev/null',
          '-i',
          k,
          '-p',
          String(job.status!.sshPort),
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
          'echo in',
        ],
        { timeoutMs: 60_000 },
      );
    expect((await sshWith(key)).stdout).toBe('in\n');
    expect((await sshWith(other)).code).toBe(255);
    const updated = await agent.updateJob(jobId, [(await mustRun('cat', [`${other}.pub`])).stdout.trim()]);
    expect(updated.spec!.authorizedKeys).toHaveLength(1);
    expect((await sshWith(other)).stdout).toBe('in\n');
    const refused = await sshWith(key);
    expect(refused.code).toBe(255);
    expect(refused.stderr).toMatch(/Permission denied/);
  });

  it('keeps the log under its cap, dropping the oldest lines, and reads by offset and time', async () => {
    const jobId = uniqueId('bigLog'.toLowerCase());
    await agent.submit({
      jobId,
      runtime: 'host',
      init: ['i=0; while [ $i -lt 2000 ]; do echo "line $i of the chatty init"; i=$((i+1)); done'],
    });
    await agent.waitState(jobId, JobState.JOB_STATE_RUNNING);
    const all = await agent.getLogs(jobId);
    expect(all.firstOffset).toBeGreaterThan(0);
    expect(all.nextOffset - all.firstOffset).toBeLessThanOrEqual(16384 + 8192);
    const text = all.lines.map((l) => Buffer.from(l.data).toString()).join('');
    expect(text).toContain('line 1999 of the chatty init\n');
    expect(text).not.toContain('line 0 of the chatty init\n');
    // From an offset: the same bytes as the tail of a full read.
    const mid = all.lines[Math.floor(all.lines.length / 2)];
    const tail = await agent.getLogs(jobId, mid.offset);
    expect(tail.lines[0].offset).toBe(mid.offset);
    expect(tail.nextOffset).toBe(all.nextOffset);
    // Since a time after every line: nothing.
    const late = await agent.getLogs(jobId, 0, Date.now() + 60_000);
    expect(late.lines).toEqual([]);
  });

  it('Shutdown stops every job, exits, and with remove_data deletes the data dir', async () => {
    const jobId = uniqueId('shutdown');
    await agent.submit({ jobId, runtime: 'host' });
    await agent.waitState(jobId, JobState.JOB_STATE_RUNNING);
    expect((await pgrepJob(jobId)).length).toBeGreaterThan(0);
    await agent.shutdown(true);
    await waitFor('the agent to exit', () => agent.proc!.exitCode !== null);
    expect(agent.proc!.exitCode).toBe(0);
    expect(await pgrepJob(jobId)).toEqual([]);
    expect(existsSync(agent.dataDir)).toBe(false);
  });
});
