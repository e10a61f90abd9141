// Metrics and utilization_policy on the built agent: GetMetrics has the CPU use and memory of a
// running job (a container through Docker's stats API, a host-mode job through /proc), and, with a
// fake nvidia-smi on the agent's PATH (the H200 fixture's shape, two GPUs at 0%), its GPUs; a job
// whose GPUs stay below its utilization_policy ends TERMINATED with dstack's reason, whether a
// daemon watches or not. There is no GPU here: the fake tool is the only GPU part, the rest is real.
//
// The policy's window is 10 s: the agent takes any window (dstack's 5m minimum is a rule of the
// configuration file, checked by core's parser; the unit tests cover it), so the check is seen
// end to end without waiting five minutes.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { JobState, type GetMetricsResponse } from '@dstack/core/gen/agent';
import { tempDir, waitFor } from '../harness/util';
import { startAgent, uniqueId, type AgentProcess } from './agent';

/** Answers GetHostInfo's query and the metrics query as an idle two-GPU H200 host would. */
const FAKE_NVIDIA_SMI = `#!/bin/sh
case "$*" in
  *utilization.gpu*) printf '0, 0, 0, 143771\\n1, 0, 512, 143771\\n' ;;
  *) printf '0, NVIDIA H200, 143771, GPU-0ef4acf2-6c8a-9f62-41ae-bab5a590b314, 00000000:00:06.0, 9.0, 580.159.04\\n1, NVIDIA H200, 143771, GPU-1ef4acf2-6c8a-9f62-41ae-bab5a590b314, 00000000:00:07.0, 9.0, 580.159.04\\n' ;;
esac
`;

/** A CPU-bound process of the job's own, started by init and left running. */
const BUSY = "nohup sh -c 'while :; do :; done' >/dev/null 2>&1 &";

describe('agent metrics', () => {
  let agent: AgentProcess;
  let cleanup: () => Promise<void>;
  let bin: { path: string; cleanup: () => void };

  beforeAll(async () => {
    bin = tempDir('fake-gpu');
    writeFileSync(join(bin.path, 'nvidia-smi'), FAKE_NVIDIA_SMI);
    chmodSync(join(bin.path, 'nvidia-smi'), 0o755);
    ({ agent, cleanup } = await startAgent({ DOCKER_HOST: inject('dockerHost'), PATH: `${bin.path}:${process.env.PATH}` }));
  });
  afterAll(async () => {
    await cleanup?.();
    bin?.cleanup();
  });

  const metrics = (jobId: string) =>
    new Promise<GetMetricsResponse>((resolve, reject) =>
      agent.client.getMetrics({ jobId, sinceMs: 0 }, (err, res) => (err ? reject(err) : resolve(res))),
    );

  it('samples a container: CPU use from the engine, its working set, no GPU it did not ask for', async () => {
    const jobId = uniqueId('metrics-docker');
    await agent.submit({ jobId, runtime: 'docker', image: inject('debianImage'), init: [BUSY] });
    await agent.waitState(jobId, JobState.JOB_STATE_RUNNING);
    const m = await waitFor(
      'a sample with the busy loop in it',
      async () => {
        const r = await metrics(jobId);
        return r.samples.some((s) => s.cpuUsagePercent > 20) ? r : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 1000 },
    );
    expect(m.intervalSeconds).toBe(5);
    const s = m.samples[m.samples.length - 1];
    expect(s.memoryUsageBytes).toBeGreaterThan(0);
    expect(s.memoryWorkingSetBytes).toBeGreaterThan(0);
    expect(s.memoryWorkingSetBytes).toBeLessThanOrEqual(s.memoryUsageBytes);
    expect(s.gpus).toEqual([]);
    await agent.stopJob(jobId, true);
    expect((await metrics(jobId)).samples).toEqual([]);
  });

  it('samples a host-mode job with its GPUs, and ends it by its utilization_policy with dstack’s reason', async () => {
    const jobId = uniqueId('metrics-host');
    await agent.submit({
      jobId,
      runtime: 'host',
      init: [BUSY],
      limits: { inactivityDurationSeconds: 0, maxRunningSeconds: 0, utilizationPolicy: { minGpuUtilization: 10, timeWindowSeconds: 10 } },
    });
    const running = await agent.waitState(jobId, JobState.JOB_STATE_RUNNING);
    const m = await waitFor(
      'a sample of the host job',
      async () => {
        const r = await metrics(jobId);
        return r.samples.length ? r : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    const s = m.samples[0];
    expect(s.cpuUsagePercent).toBeGreaterThan(20);
    expect(s.memoryUsageBytes).toBeGreaterThan(0);
    const total = 143771 * 1024 * 1024;
    expect(s.gpus).toEqual([
      { index: 0, utilizationPercent: 0, memoryUsedBytes: 0, memoryTotalBytes: total },
      { index: 1, utilizationPercent: 0, memoryUsedBytes: 512 * 1024 * 1024, memoryTotalBytes: total },
    ]);

    // No daemon watches this agent, but the policy does not depend on that: ended once the 10 s
    // window is covered by samples, well before anything else would end it.
    const ended = await agent.waitState(jobId, JobState.JOB_STATE_TERMINATED, 60_000);
    expect(ended.status!.reason).toBe('terminated_due_to_utilization_policy');
    expect(ended.status!.message).toBe('The job GPU utilization below 10% for 10 seconds (gpu=0 at most 0%, gpu=1 at most 0%)');
    expect(ended.status!.finishedMs - running.status!.startedMs).toBeLessThan(40_000);
    expect(await agent.logText(jobId)).toContain('The job GPU utilization below 10% for 10 seconds');
  });
});
