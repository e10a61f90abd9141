// A stop that arrives while a job is still being made (the image pulling, the container being
// created, an init command running, or any moment right after SubmitJob) leaves no container and no
// process behind, before and after RemoveJob. The agent talks to the real test engine through a
// DockerGate, which lets a test hold the container create until the stop is in.
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { JobState } from '@dstack/core/gen/agent';
import { docker } from '../harness/docker';
import { freePort, waitFor } from '../harness/util';
import { startAgent, uniqueId, type AgentProcess } from './agent';
import { DockerGate } from '../harness/docker-gate';
import { pgrepJob } from './job-suite';

/** Containers (any state) of a job on the real engine, and the host processes that carry its marker. */
async function leftovers(jobId: string): Promise<string[]> {
  const res = await docker(['ps', '-a', '--filter', `label=ai.dstack.job-id=${jobId}`, '--format', '{{.ID}} {{.State}}']);
  const containers = res.stdout
    .split('\n')
    .filter(Boolean)
    .map((c) => `container ${c}`);
  const procs = (await pgrepJob(jobId)).map((p) => `process ${p}`);
  return [...containers, ...procs];
}

describe('a stop at any stage of a job leaves nothing behind', () => {
  let agent: AgentProcess;
  let cleanup: () => Promise<void>;
  let gate: DockerGate;
  const image = () => inject('debianImage');

  beforeAll(async () => {
    gate = new DockerGate(inject('dockerHost').replace(/^unix:\/\//, ''));
    await gate.start();
    ({ agent, cleanup } = await startAgent({ DOCKER_HOST: gate.dockerHost }));
  });
  afterAll(async () => {
    await cleanup?.();
    await gate?.stop();
  });

  /** Stops (abort or graceful), checks, removes, checks again once the agent's Docker calls settle. */
  async function stopAndCheck(jobId: string, abort: boolean): Promise<void> {
    const stopped = await agent.stopJob(jobId, abort, 2);
    expect(stopped.status!.state).toBe(JobState.JOB_STATE_TERMINATED);
    expect(stopped.status!.reason).toBe(abort ? 'aborted' : 'stopped');
    expect(await leftovers(jobId)).toEqual([]);
    await agent.removeJob(jobId);
    await gate.settled();
    expect(await leftovers(jobId)).toEqual([]);
  }

  it('while the image is pulling from a registry that never answers', async () => {
    const held = new Set<Socket>();
    const registry: Server = createServer((s) => {
      held.add(s);
      s.on('error', () => {});
    });
    const port = await freePort();
    await new Promise<void>((r) => registry.listen(port, '127.0.0.1', r));
    try {
      const jobId = uniqueId('stop-pull');
      await agent.submit({ jobId, runtime: 'docker', image: `127.0.0.1:${port}/never/answers:v1` });
      await waitFor(
        'the pull to reach the engine',
        () => gate.calls.some((c) => c.includes('/images/create') && c.includes(String(port))),
        { timeoutMs: 60_000 },
      );
      expect((await agent.getJob(jobId)).status!.state).toBe(JobState.JOB_STATE_PULLING);
      await stopAndCheck(jobId, false);
    } finally {
      for (const s of held) s.destroy();
      await new Promise((r) => registry.close(r));
    }
  });

  for (const abort of [true, false]) {
    it(`while the container is being created (${abort ? 'abort' : 'graceful stop'})`, async () => {
      const jobId = uniqueId('stop-create');
      gate.hold(/^POST \/v[\d.]+\/containers\/create/);
      let stopping: Promise<unknown> | undefined;
      try {
        await agent.submit({ jobId, runtime: 'docker', image: image() });
        await gate.waitHeld(1);
        stopping = agent.stopJob(jobId, abort, 2);
        stopping.catch(() => {});
        await waitFor('the job to be stopping', async () => (await agent.getJob(jobId)).status!.state === JobState.JOB_STATE_STOPPING);
      } finally {
        // The create goes on only now: the container appears after the stop came in.
        gate.release();
      }
      await stopping;
      await stopAndCheck(jobId, abort);
    });
  }

  for (const runtime of ['docker', 'host'] as const) {
    it(`while an init command runs (${runtime})`, async () => {
      const jobId = uniqueId(`stop-init-${runtime}`);
      await agent.submit({ jobId, runtime, image: runtime === 'docker' ? image() : '', init: ['echo init-started; sleep 600'] });
      await waitFor('the init command to run', async () => (await agent.logText(jobId)).includes('init-started\n'));
      expect((await agent.getJob(jobId)).status!.state).toBe(JobState.JOB_STATE_STARTING);
      expect(await leftovers(jobId)).not.toEqual([]);
      await stopAndCheck(jobId, false);
    });
  }

  it('at any moment right after SubmitJob (stop then RemoveJob, as the daemon does)', async () => {
    const leaks: string[] = [];
    for (let i = 0; i < 8; i++) {
      const jobId = uniqueId('stop-soon');
      await agent.submit({ jobId, runtime: 'docker', image: image(), init: ['true'] });
      await new Promise((r) => setTimeout(r, i * 40));
      await agent.stopJob(jobId, i % 2 === 0, 2);
      await agent.removeJob(jobId);
      await gate.settled();
      const left = await leftovers(jobId);
      if (left.length) leaks.push(`${jobId} (stopped after ${i * 40} ms): ${left.join(', ')}`);
    }
    expect(leaks).toEqual([]);
  });
});
