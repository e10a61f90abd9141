// Runs whose instance went away: the agent's connection dropped (a host powered off, a cable pulled,
// an agent that does not come back). After a grace period (config.yml `instance_unreachable_after`,
// 3 minutes by default) the run ends with instance_unreachable, or is resubmitted where its retry
// policy covers `interruption` (a lost host interrupts the run, as a reclaimed spot instance does)
// or `error` (dstack's own mapping of instance_unreachable). Its job cannot be stopped while the
// host is away: the sweep that runs when the agent answers again removes it (orphans.ts).
import { shouldRetry, type TerminationReason } from '@dstack/core/runs/status';
import type { RetryPolicy } from '@dstack/core/config/types';
import type { AgentManager } from '../agent/manager';

export class InstanceLoss {
  /** Instances whose agent stopped answering, and since when. */
  private readonly downSince = new Map<string, number>();

  constructor(
    agents: AgentManager,
    readonly graceMs: number,
  ) {
    agents.onState((key, up) => {
      if (up) this.downSince.delete(key);
      else if (!this.downSince.has(key)) this.downSince.set(key, Date.now());
    });
  }

  /** Silent for the whole grace period. */
  isLost(key: string, now = Date.now()): boolean {
    const since = this.downSince.get(key);
    return since !== undefined && now - since >= this.graceMs;
  }

  message(instanceName: string): string {
    return `the agent on ${instanceName} has not answered for ${Math.round(this.graceMs / 1000)}s (instance_unreachable_after)`;
  }
}

/** Whether a run that ended for `reason` is resubmitted: its retry policy, with a lost instance counting as an interruption too. */
export function retriesAfter(
  reason: TerminationReason,
  retry: Pick<RetryPolicy, 'on_events' | 'duration'> | null | undefined,
  submittedMs: number,
  nowMs: number,
): boolean {
  if (shouldRetry(reason, retry, submittedMs, nowMs)) return true;
  return reason === 'instance_unreachable' && shouldRetry('interrupted_by_no_capacity', retry, submittedMs, nowMs);
}
