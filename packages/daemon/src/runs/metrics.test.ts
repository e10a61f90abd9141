// utilization_policy on the daemon's side: sent to the agent with the job's limits, the agent's
// reason mapped to dstack's, a container instance that ended unwatched explained; and GetMetrics
// asking the run's agent.
import { describe, expect, it } from 'vitest';
import { parseConfiguration, type DevEnvironmentConfiguration } from '@dstack/core/config/index';
import { JobState } from '@dstack/core/gen/agent';
import { reasonToStatus } from '@dstack/core/runs/status';
import type { AgentRpc } from '../agent/rpc';
import type { RunRow } from '../state/runs-store';
import { endOf } from './instance-loss';
import { jobLimitsFor } from './job-spec';
import { reasonForEndedJob } from './job-state';
import { runMetrics } from './metrics';

function config(body = ''): DevEnvironmentConfiguration {
  const r = parseConfiguration('.dstack.yml', `type: dev-environment\n${body}`, {});
  if (!r.ok || r.config.type !== 'dev-environment') throw new Error(JSON.stringify(r));
  return r.config;
}

const POLICY = 'utilization_policy:\n  min_gpu_utilization: 10\n  time_window: 30m\n';

describe('utilization_policy reaches the agent and comes back as dstack’s reason', () => {
  it('goes with the job’s limits (and with UpdateJob’s)', () => {
    expect(jobLimitsFor(config(POLICY)).utilizationPolicy).toEqual({ minGpuUtilization: 10, timeWindowSeconds: 1800 });
    expect(jobLimitsFor(config()).utilizationPolicy).toBeUndefined();
  });

  it('a job the agent ended by the policy ends the run terminated_due_to_utilization_policy, terminated as in dstack', () => {
    const reason = reasonForEndedJob({ state: JobState.JOB_STATE_TERMINATED, reason: 'terminated_due_to_utilization_policy', exitCode: 0 });
    expect(reason).toBe('terminated_due_to_utilization_policy');
    expect(reasonToStatus(reason)).toBe('terminated');
  });

  it('a container instance that ended with no daemon watching: the policy is named when no other limit explains it', () => {
    const row = (c: DevEnvironmentConfiguration) => ({ configuration: c, runningMs: 0, runningSinceMs: 0 }) as unknown as RunRow;
    const end = { interrupted: false, message: 'the container exited' };
    expect(endOf(row(config(POLICY)), end, 1000)).toEqual({
      reason: 'terminated_due_to_utilization_policy',
      message: 'the container exited: its agent ends the run when a GPU stays below 10% for 1800s (utilization_policy)',
    });
    expect(endOf(row(config(`${POLICY}inactivity_duration: 1h\n`)), end, 1000).reason).toBe('inactivity_duration_exceeded');
    expect(endOf(row(config()), end, 1000).reason).toBe('instance_unreachable');
    // A container killed for its memory is that, whatever limits the run has.
    const oom = { ...end, failed: 'container_exited_with_error' as const };
    expect(endOf(row(config(`${POLICY}inactivity_duration: 1h\n`)), oom, 1000).reason).toBe('container_exited_with_error');
  });
});

describe('GetMetrics', () => {
  const sample = { timeMs: 5, cpuUsagePercent: 12.5, memoryUsageBytes: 300, memoryWorkingSetBytes: 200, gpus: [] };
  const row = (over: Partial<RunRow>) =>
    ({ name: 'r', status: 'running', jobId: 'j1', instanceKey: 'k', configuration: config(POLICY), ...over }) as RunRow;
  const controller = (agent?: Partial<AgentRpc>) => ({
    view: () => ({ resources: { cpus: 4, cpuArch: 'x86', memoryGb: 16, diskGb: 100, gpus: [], spot: false } }) as never,
    jobAgent: () => agent as AgentRpc | undefined,
  });

  it('asks the run’s agent for its job’s samples, with the resources and the policy', async () => {
    let asked: unknown;
    const agent = {
      getMetrics: async (req: unknown) => {
        asked = req;
        return { samples: [sample], intervalSeconds: 5 };
      },
    };
    const m = await runMetrics(row({}), controller(agent), 42);
    expect(asked).toEqual({ jobId: 'j1', sinceMs: 42 });
    expect(m).toEqual({
      runName: 'r',
      jobId: 'j1',
      resources: { cpus: 4, cpuArch: 'x86', memoryGb: 16, diskGb: 100, gpus: [], spot: false },
      intervalSeconds: 5,
      samples: [sample],
      utilizationPolicy: { minGpuUtilization: 10, timeWindowSeconds: 1800 },
    });
  });

  it('has no samples before the job runs, and refuses a finished run or an agent out of reach', async () => {
    expect((await runMetrics(row({ status: 'provisioning', jobId: '' }), controller(), 0)).samples).toEqual([]);
    await expect(runMetrics(row({ status: 'terminated' }), controller(), 0)).rejects.toThrow(/run r is terminated: metrics are kept/);
    await expect(runMetrics(row({}), controller(undefined), 0)).rejects.toThrow(/agent is not connected now/);
  });
});
