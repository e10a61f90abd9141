// dstack's utilization_policy check (its server's `_check_gpu_utilization`): the job ends once one of
// its GPUs (any one, as dstack: "If any GPU has utilization below specified value during the whole
// time window, the run is terminated") stayed below min_gpu_utilization in every sample of the last
// time_window, and the samples reach back to the window's start. Pure: the sampler acts on it.
import type { MetricsSample, UtilizationPolicy } from '@dstack/core/gen/agent';

/**
 * How close to the window's start the oldest sample must be: dstack's minute, or half the window
 * for a shorter one (only a caller of the agent itself can ask for a window under dstack's 5m).
 */
function slackMs(windowMs: number): number {
  return Math.min(60_000, windowMs / 2);
}

export interface LowUtilization {
  /** The GPUs below the minimum all window long, with the highest utilization each had in it. */
  gpus: { index: number; maxPercent: number }[];
  message: string;
}

/** What makes the job end at `now`, or undefined: within the policy, not enough samples yet, or no GPUs. */
export function lowUtilization(
  policy: UtilizationPolicy | undefined,
  samples: readonly MetricsSample[],
  now: number,
): LowUtilization | undefined {
  if (!policy || policy.timeWindowSeconds <= 0) return undefined;
  const windowMs = policy.timeWindowSeconds * 1000;
  const after = now - windowMs;
  const inWindow = samples.filter((s) => s.timeMs >= after && s.gpus.length > 0);
  // dstack: "not enough samples" (a job with no GPUs never has any, so the policy never ends it).
  if (!inWindow.length || inWindow[0].timeMs > after + slackMs(windowMs)) return undefined;
  const max = new Map<number, number>();
  for (const s of inWindow) for (const g of s.gpus) max.set(g.index, Math.max(max.get(g.index) ?? 0, g.utilizationPercent));
  const low = [...max]
    .filter(([, percent]) => percent < policy.minGpuUtilization)
    .map(([index, maxPercent]) => ({ index, maxPercent }))
    .sort((a, b) => a.index - b.index);
  if (!low.length) return undefined;
  const which = low.map((g) => `gpu=${g.index} at most ${g.maxPercent}%`).join(', ');
  return {
    gpus: low,
    // dstack's message, then which GPUs.
    message: `The job GPU utilization below ${policy.minGpuUtilization}% for ${policy.timeWindowSeconds} seconds (${which})`,
  };
}
