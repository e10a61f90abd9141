// The job suite, run once per runtime (docker-job.test.ts, host-job.test.ts): env and init, state
// transitions in Events, logs with time and stream, init failure, graceful stop and abort, removal.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { JobState, LogStream, type Event } from '@dstack/core/gen/agent';
import { docker } from '../harness/docker';
import { waitFor } from '../harness/util';
import { startAgent, uniqueId, type AgentProcess } from './agent';

export function jobSuite(runtime: 'docker' | 'host') {
  describe(`jobs in ${runtime} mode`, () => {
    let agent: AgentProcess;
    let cleanup: () => Promise<void>;
    const image = () => (runtime === 'docker' ? inject('debianImage') : '');

    beforeAll(async () => {
      ({ agent, cleanup } = await startAgent({ DOCKER_HOST: inject('dockerHost') }));
      agent.subscribe();
    });
    afterAll(async () => cleanup?.());

    const jobDir = (id: string) => join(agent.dataDir, 'jobs', id);
    const containers = async (id: string) =>
      (await docker(['ps', '-a', '-q', '--filter', `label=ai.dstack.job-id=${id}`])).stdout.trim().split('\n').filter(Boolean);

    it('runs init in the working dir with the env, and reports each state in Events', async () => {
      const jobId = uniqueId('env');
      const submitted = await agent.submit({
        jobId,
        runtime,
        image: image(),
        runName: 'my-run',
        repoId: 'repo-42',
        env: { GREETING: 'it\'s a "test" $HOME' },
        init: [
          'echo "init1 $GREETING run=$DSTACK_RUN_NAME repo=$DSTACK_REPO_ID gpus=$DSTACK_GPUS_NUM wd=$DSTACK_WORKING_DIR pwd=$(pwd)"',
          'echo to-stderr >&2',
        ],
      });
      expect(submitted.status!.state).toBe(JobState.JOB_STATE_SUBMITTED);
      expect(submitted.status!.runtime).toBe(runtime);
      const job = await agent.waitState(jobId, JobState.JOB_STATE_RUNNING);
      const wd = runtime === 'docker' ? '/workflow' : join(jobDir(jobId), 'workflow');
      expect(job.status!.workingDir).toBe(wd);

      const states = agent.events
        .filter((e: Event) => e.jobId === jobId && e.payload?.$case === 'status')
        .map((e) => (e.payload!.value as { state: JobState }).state);
      const order = [JobState.JOB_STATE_SUBMITTED, JobState.JOB_STATE_PULLING, JobState.JOB_STATE_STARTING, JobState.JOB_STATE_RUNNING];
      // Each state change is reported, in order (SUBMITTED may precede the subscription's snapshot).
      const seen = [...new Set(states)].filter((s) => order.includes(s));
      expect(seen.slice(-3)).toEqual(order.slice(1));

      const logs = await agent.getLogs(jobId);
      const out = logs.lines.filter((l) => l.stream === LogStream.LOG_STREAM_STDOUT).map((l) => Buffer.from(l.data).toString());
      expect(out).toContain(`init1 it's a "test" $HOME run=my-run repo=repo-42 gpus=0 wd=${wd} pwd=${wd}\n`);
      const err = logs.lines.filter((l) => l.stream === LogStream.LOG_STREAM_STDERR).map((l) => Buffer.from(l.data).toString());
      expect(err).toEqual(['to-stderr\n']);
      const agentLines = logs.lines.filter((l) => l.stream === LogStream.LOG_STREAM_AGENT).map((l) => Buffer.from(l.data).toString());
      expect(agentLines.join('')).toContain('init 1/2: echo "init1');
      for (const l of logs.lines) expect(l.timeMs).toBeGreaterThan(job.status!.submittedMs - 1000);

      // The log lines also came live through Events.
      await agent.waitEvent(
        'init output in Events',
        (e) => e.jobId === jobId && e.payload?.$case === 'log' && Buffer.from(e.payload.value.data).toString().startsWith('init1'),
      );

      // Submitting the same job again returns it unchanged.
      const again = await agent.submit({ jobId, runtime, image: image(), init: ['false'] });
      expect(again.status!.submittedMs).toBe(submitted.status!.submittedMs);
      expect(again.spec!.init).toHaveLength(2);

      if (runtime === 'docker') {
        // A login shell that is given no env at all still sees the job's env (the profile).
        const [cid] = await containers(jobId);
        expect(cid).toBeTruthy();
        const login = await docker(['exec', cid, 'env', '-i', '/bin/bash', '-lc', 'echo "$GREETING|$DSTACK_RUN_NAME"']);
        expect(login.stdout.trim()).toBe(`it's a "test" $HOME|my-run`);
        const inspect = JSON.parse((await docker(['inspect', cid])).stdout)[0];
        expect(inspect.HostConfig.NetworkMode).toBe('host');
        expect(inspect.Config.WorkingDir).toBe('/workflow');
        expect(inspect.Config.Labels['ai.dstack.agent.instance-id']).toBe((await agent.handshake()).instanceId);
        expect(inspect.Mounts.map((m: { Destination: string; Source: string }) => [m.Destination, m.Source])).toContainEqual([
          '/workflow',
          join(jobDir(jobId), 'workflow'),
        ]);
      } else {
        expect(readFileSync(join(jobDir(jobId), 'env.sh'), 'utf8')).toContain('export DSTACK_RUN_NAME=my-run\n');
      }
    });

    it('runs init with the configured shell', async () => {
      const jobId = uniqueId('shell');
      await agent.submit({ jobId, runtime, image: image(), shell: 'bash', init: ['[[ -n "$BASH_VERSION" ]] && echo "in bash"'] });
      await agent.waitState(jobId, JobState.JOB_STATE_RUNNING);
      expect(await agent.logText(jobId)).toContain('in bash\n');
      await agent.removeJob(jobId);
    });

    it('fails the job on the first failing init command, naming it and its exit code', async () => {
      const jobId = uniqueId('initfail');
      await agent.submit({ jobId, runtime, image: image(), init: ['echo first', 'sh -c "exit 3"', 'echo never'] });
      const job = await agent.waitState(jobId, JobState.JOB_STATE_FAILED);
      expect(job.status).toMatchObject({
        reason: 'init_failed',
        exitCode: 3,
        message: 'init command `sh -c "exit 3"` failed with exit code 3',
      });
      const text = await agent.logText(jobId);
      expect(text).toContain('first\n');
      expect(text).not.toContain('never');
      // A failed job holds no container.
      if (runtime === 'docker') await waitFor('the container to go', async () => (await containers(jobId)).length === 0);
    });

    it("stops gracefully: SIGTERM reaches the job's processes, then everything is gone", async () => {
      const jobId = uniqueId('stop');
      // A process left running by init that records the SIGTERM it gets.
      const trap = `sh -c 'trap "echo got-term > $DSTACK_WORKING_DIR/term; exit 0" TERM; while :; do sleep 1; done' >/dev/null 2>&1 &`;
      await agent.submit({ jobId, runtime, image: image(), init: [trap] });
      await agent.waitState(jobId, JobState.JOB_STATE_RUNNING);
      if (runtime === 'docker') expect(await containers(jobId)).toHaveLength(1);
      const stopped = await agent.stopJob(jobId, false, 20);
      expect(stopped.status).toMatchObject({ state: JobState.JOB_STATE_TERMINATED, reason: 'stopped' });
      expect(readFileSync(join(jobDir(jobId), 'workflow', 'term'), 'utf8')).toBe('got-term\n');
      if (runtime === 'docker') expect(await containers(jobId)).toEqual([]);
      else expect(await pgrepJob(jobId)).toEqual([]);
      // Stopping again changes nothing.
      expect((await agent.stopJob(jobId)).status!.state).toBe(JobState.JOB_STATE_TERMINATED);
    });

    it('aborts at once (SIGKILL, no trap runs) and RemoveJob cleans up', async () => {
      const jobId = uniqueId('abort');
      const trap = `sh -c 'trap "echo got-term > $DSTACK_WORKING_DIR/term; exit 0" TERM; while :; do sleep 1; done' >/dev/null 2>&1 &`;
      await agent.submit({ jobId, runtime, image: image(), init: [trap] });
      await agent.waitState(jobId, JobState.JOB_STATE_RUNNING);
      const aborted = await agent.stopJob(jobId, true);
      expect(aborted.status).toMatchObject({ state: JobState.JOB_STATE_TERMINATED, reason: 'aborted' });
      expect(existsSync(join(jobDir(jobId), 'workflow', 'term'))).toBe(false);
      if (runtime === 'docker') expect(await containers(jobId)).toEqual([]);
      else expect(await pgrepJob(jobId)).toEqual([]);

      await agent.removeJob(jobId);
      expect(existsSync(jobDir(jobId))).toBe(false);
      await expect(agent.getJob(jobId)).rejects.toThrow(/unknown to this agent/);
      expect((await agent.listJobs()).jobs.map((j) => j.spec!.jobId)).not.toContain(jobId);
    });

    it('RemoveJob on a running job stops it first', async () => {
      const jobId = uniqueId('remove');
      await agent.submit({ jobId, runtime, image: image() });
      await agent.waitState(jobId, JobState.JOB_STATE_RUNNING);
      await agent.removeJob(jobId);
      expect(existsSync(jobDir(jobId))).toBe(false);
      if (runtime === 'docker') expect(await containers(jobId)).toEqual([]);
      else expect(await pgrepJob(jobId)).toEqual([]);
    });
  });
}

/** Host processes carrying the job's marker in their environment. */
export async function pgrepJob(jobId: string): Promise<number[]> {
  const { readdirSync } = await import('node:fs');
  const pids: number[] = [];
  for (const p of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      if (readFileSync(`/proc/${p}/environ`).includes(`DSTACK_JOB_ID=${jobId}\0`)) pids.push(Number(p));
    } catch {
      /* gone */
    }
  }
  return pids;
}
