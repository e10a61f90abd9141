// GetMetrics: a run's CPU, memory and GPU samples, asked of the agent of its current job (which
// keeps the last hour in memory), with the offer's resources the percentages are of and the run's
// utilization_policy.
import type { GetMetricsResponse } from '@dstack/core/gen/daemon';
import { PreconditionError } from '@dstack/core/grpc';
import { isFinished } from '@dstack/core/runs/status';
import { isNotFound } from '../agent/rpc';
import type { RunRow } from '../state/runs-store';
import type { RunController } from './controller';

export async function runMetrics(row: RunRow, c: Pick<RunController, 'view' | 'jobAgent'>, sinceMs: number): Promise<GetMetricsResponse> {
  if (isFinished(row.status)) {
    throw new PreconditionError(`run ${row.name} is ${row.status}: metrics are kept by its agent only while its job runs`);
  }
  const policy = row.configuration.utilization_policy;
  const out: GetMetricsResponse = {
    runName: row.name,
    jobId: row.jobId,
    resources: c.view(row).resources,
    intervalSeconds: 0,
    samples: [],
    utilizationPolicy: policy ? { minGpuUtilization: policy.min_gpu_utilization, timeWindowSeconds: policy.time_window } : undefined,
  };
  // No job yet (submitted, provisioning, a retry waiting): nothing sampled yet.
  if (!row.jobId || !['pulling', 'running'].includes(row.status)) return out;
  const agent = c.jobAgent(row);
  if (!agent) throw new PreconditionError(`run ${row.name}: its instance's agent is not connected now; try again in a moment`);
  try {
    const res = await agent.getMetrics({ jobId: row.jobId, sinceMs });
    return { ...out, intervalSeconds: res.intervalSeconds, samples: res.samples };
  } catch (err) {
    if (isNotFound(err)) return out;
    throw new PreconditionError(`run ${row.name}: its agent did not answer: ${(err as Error).message}`);
  }
}
