// Runs whose instance went away: the agent's connection dropped (a host powered off, a cable pulled,
// an agent that does not come back). After a grace period (config.yml `instance_unreachable_after`,
// 3 minutes by default) the run ends with instance_unreachable, or is resubmitted where its retry
// policy covers `interruption` (a lost host interrupts the run, as a reclaimed spot instance does)
// or `error` (dstack's own mapping of instance_unreachable). Its job cannot be stopped while the
// host is away: the sweep that runs when the agent answers again removes it (orphans.ts).
import { shouldRetry, type TerminationReason } from '@dstack/core/runs/status';
import type { RetryPolicy } from '@dstack/core/config/types';
import type { RunRow } from '../state/runs-store';
import type { InstanceEnd } from '@dstack/backends/backend';
import type { AgentManager } from '../agent/manager';

/** Asks the instance's provider whether the instance ended (taken back, its container exited, gone). */
export type EndProbe = (key: string) => Promise<InstanceEnd | undefined>;

const PROBE_EVERY_MS = 10_000;

export class InstanceLoss {
  /** Instances whose agent stopped answering, and since when. */
  private readonly downSince = new Map<string, number>();
  /** Instances the provider says ended: no grace period, their runs end now. */
  private readonly ends = new Map<string, InstanceEnd>();
  private readonly probes = new Map<string, NodeJS.Timeout>();

  constructor(
    agents: AgentManager,
    readonly graceMs: number,
    private readonly probe?: EndProbe,
  ) {
    agents.onState((key, up) => {
      if (up) {
        this.downSince.delete(key);
        this.ends.delete(key);
        this.stopProbing(key);
      } else if (!this.downSince.has(key)) {
        this.downSince.set(key, Date.now());
        this.startProbing(key);
      }
    });
  }

  /** While the agent is silent, the provider is asked now and then whether the instance ended. */
  private startProbing(key: string): void {
    if (!this.probe || this.probes.has(key)) return;
    const ask = () => {
      this.probe!(key)
        .then((end) => {
          if (end && this.downSince.has(key)) {
            this.ends.set(key, end);
            this.stopProbing(key);
          }
        })
        .catch(() => undefined);
    };
    ask();
    const timer = setInterval(ask, PROBE_EVERY_MS);
    timer.unref();
    this.probes.set(key, timer);
  }

  private stopProbing(key: string): void {
    clearInterval(this.probes.get(key));
    this.probes.delete(key);
  }

  /** What the provider said when the instance ended under a silent agent. */
  ended(key: string): InstanceEnd | undefined {
    return this.ends.get(key);
  }

  close(): void {
    for (const key of [...this.probes.keys()]) this.stopProbing(key);
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

/**
 * Why a run's instance ended while its agent was silent. Taken back: an interruption. A container
 * that exited on its own: its agent ends a run at its limits with no daemon watching (and the
 * container with it), so a run past max_duration, or one with an inactivity_duration, ended there,
 * then one with a utilization_policy (which its agent enforces at any time); else the instance is lost.
 */
export function endOf(row: RunRow, end: InstanceEnd, now: number): { reason: TerminationReason; message: string } {
  if (end.interrupted) return { reason: 'interrupted_by_no_capacity', message: `the provider took the instance back: ${end.message}` };
  if (end.failed) return { reason: end.failed, message: end.message };
  const config = row.configuration;
  const ran = row.runningMs + (row.runningSinceMs ? now - row.runningSinceMs : 0);
  if (config.max_duration && ran >= config.max_duration * 1000) {
    return {
      reason: 'max_duration_exceeded',
      message: `${end.message}: its agent ended the run at max_duration (${config.max_duration}s)`,
    };
  }
  if (config.inactivity_duration && config.inactivity_duration > 0) {
    return {
      reason: 'inactivity_duration_exceeded',
      message: `${end.message}: with no daemon watching, its agent ends the run at inactivity_duration (${config.inactivity_duration}s)`,
    };
  }
  if (config.utilization_policy) {
    return {
      reason: 'terminated_due_to_utilization_policy',
      message: `${end.message}: its agent ends the run when a GPU stays below ${config.utilization_policy.min_gpu_utilization}% for ${config.utilization_policy.time_window}s (utilization_policy)`,
    };
  }
  return { reason: 'instance_unreachable', message: end.message };
}
