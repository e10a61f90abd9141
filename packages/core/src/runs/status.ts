// Run statuses and termination reasons, with dstack's names and meanings (dstack's RunStatus,
// RunTerminationReason and JobTerminationReason), and the run state machine as one table of
// transitions. Pure: the daemon's controller persists each transition before it acts on it.

export const RUN_STATUSES = [
  'submitted',
  'provisioning',
  'pulling',
  'running',
  'terminating',
  'terminated',
  'failed',
  'done',
  'stopped',
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

// `stopped` (beyond dstack) is a run stopped by its user with its container kept on its instance: it
// runs nothing and holds no job, so it counts as finished everywhere a run is followed, but it may
// start again (`stopped → submitted`) or be ended for good (`stopped → terminated`).
export const FINISHED_STATUSES: readonly RunStatus[] = ['terminated', 'failed', 'done', 'stopped'];

export function isRunStatus(s: string): s is RunStatus {
  return (RUN_STATUSES as readonly string[]).includes(s);
}

export function isFinished(status: string): boolean {
  return (FINISHED_STATUSES as readonly string[]).includes(status);
}

/** An active run holds (or is getting) an instance: everything that is not finished. */
export function isActive(status: string): boolean {
  return isRunStatus(status) && !isFinished(status);
}

/** dstack's retry events (`retry.on_events`). */
export type RetryEvent = 'no-capacity' | 'interruption' | 'error';

interface ReasonInfo {
  /** The final status a run with this reason ends in. */
  status: 'terminated' | 'failed' | 'done';
  /** What `retry.on_events` entry makes this reason resubmit the run; none: never retried. */
  retry?: RetryEvent;
  /** Short words for a human, where the status message does not already say it. */
  text: string;
}

// dstack's JobTerminationReason (set by the server or the runner), then the run-level reasons of
// RunTerminationReason that a single-job run needs. The status each maps to follows dstack's
// to_status(); aborted_by_user is a job status of its own in dstack but a `terminated` run.
export const TERMINATION_REASONS = {
  failed_to_start_due_to_no_capacity: { status: 'failed', retry: 'no-capacity', text: 'no offer fits' },
  interrupted_by_no_capacity: { status: 'failed', retry: 'interruption', text: 'interrupted' },
  instance_unreachable: { status: 'failed', retry: 'error', text: 'instance unreachable' },
  waiting_instance_limit_exceeded: { status: 'failed', retry: 'error', text: 'waiting instance limit exceeded' },
  waiting_runner_limit_exceeded: { status: 'failed', retry: 'error', text: 'waiting runner limit exceeded' },
  terminated_by_user: { status: 'terminated', text: 'stopped by user' },
  volume_error: { status: 'failed', retry: 'error', text: 'volume error' },
  gateway_error: { status: 'failed', retry: 'error', text: 'gateway error' },
  scaled_down: { status: 'terminated', text: 'scaled down' },
  done_by_runner: { status: 'done', text: 'done' },
  aborted_by_user: { status: 'terminated', text: 'aborted by user' },
  terminated_by_server: { status: 'terminated', text: 'terminated by server' },
  inactivity_duration_exceeded: { status: 'terminated', text: 'inactivity duration exceeded' },
  terminated_due_to_utilization_policy: { status: 'terminated', text: 'utilization policy' },
  container_exited_with_error: { status: 'failed', retry: 'error', text: 'container exited with error' },
  ports_binding_failed: { status: 'failed', retry: 'error', text: 'ports binding failed' },
  creating_container_error: { status: 'failed', retry: 'error', text: 'creating container error' },
  executor_error: { status: 'failed', retry: 'error', text: 'executor error' },
  max_duration_exceeded: { status: 'terminated', text: 'max duration exceeded' },
  log_quota_exceeded: { status: 'failed', retry: 'error', text: 'log quota exceeded' },
  // Run-level (RunTerminationReason).
  all_jobs_done: { status: 'done', text: 'done' },
  job_failed: { status: 'failed', text: 'job failed' },
  retry_limit_exceeded: { status: 'failed', text: 'retry limit exceeded' },
  stopped_by_user: { status: 'terminated', text: 'stopped by user' },
  server_error: { status: 'failed', text: 'server error' },
} as const satisfies Record<string, ReasonInfo>;

export type TerminationReason = keyof typeof TERMINATION_REASONS;

/** The status a run ends in for a reason (dstack's to_status). */
export function reasonToStatus(reason: TerminationReason): 'terminated' | 'failed' | 'done' {
  return TERMINATION_REASONS[reason].status;
}

/** The retry event a reason triggers, or undefined when it is never retried. */
export function reasonRetryEvent(reason: TerminationReason): RetryEvent | undefined {
  const info: ReasonInfo = TERMINATION_REASONS[reason];
  return info.retry;
}

export function reasonText(reason: TerminationReason): string {
  return TERMINATION_REASONS[reason].text;
}

/** The run state machine: every allowed move, with why it happens. Nothing else may move a run. */
export const RUN_TRANSITIONS: ReadonlyArray<readonly [from: RunStatus, to: RunStatus, why: string]> = [
  ['submitted', 'provisioning', 'an offer was chosen: create or reuse its instance, deploy the agent, submit the job'],
  ['submitted', 'terminating', 'stopped before provisioning began (nothing to clean but the record)'],
  ['submitted', 'failed', 'no offer fits and no retry is left, or the submission was invalid'],
  ['submitted', 'terminated', 'stopped while waiting for a retry'],
  ['provisioning', 'pulling', 'the agent is pulling the image'],
  ['provisioning', 'running', 'the job started without a pull (host mode, image present)'],
  ['provisioning', 'submitted', 'provisioning failed with a retry left: wait for the next attempt'],
  ['provisioning', 'terminating', 'stopped, or failed: the job and instance must be cleaned up'],
  ['provisioning', 'failed', 'provisioning failed before anything was created'],
  ['pulling', 'running', 'the container is up'],
  ['pulling', 'submitted', 'the job failed with a retry left'],
  ['pulling', 'terminating', 'stopped, or the job failed'],
  ['running', 'submitted', 'the job failed or was interrupted with a retry left'],
  ['running', 'terminating', 'stopped by the user, by inactivity or max_duration, or the job ended'],
  ['terminating', 'terminated', 'cleaned up after a stop'],
  ['terminating', 'failed', 'cleaned up after a failure'],
  ['terminating', 'done', 'cleaned up after the job finished on its own'],
  ['terminating', 'submitted', 'cleaned up after a failure with a retry left: wait for the next attempt'],
  ['terminating', 'stopped', 'stopped by the user with its state kept: the job ended, its container stays (stopped) on the instance'],
  ['stopped', 'submitted', 'resumed (dstack start, or apply of the same configuration): its kept container starts again'],
  ['stopped', 'terminated', 'its kept state discarded (dstack stop -x, dstack delete, or an apply that starts it fresh)'],
];

const ALLOWED = new Map<RunStatus, Set<RunStatus>>();
for (const [from, to] of RUN_TRANSITIONS) {
  if (!ALLOWED.has(from)) ALLOWED.set(from, new Set());
  ALLOWED.get(from)!.add(to);
}

export function canTransition(from: RunStatus, to: RunStatus): boolean {
  return ALLOWED.get(from)?.has(to) ?? false;
}

/** The statuses a run may move to from `from`. */
export function nextStatuses(from: RunStatus): RunStatus[] {
  return [...(ALLOWED.get(from) ?? [])];
}

/**
 * Whether a failure with `reason` resubmits the run: its event is in `on_events` and the retry
 * window (counted from the run's first submission) is still open at `nowMs`.
 */
export function shouldRetry(
  reason: TerminationReason,
  retry: { on_events: readonly string[]; duration: number | null } | null | undefined,
  submittedMs: number,
  nowMs: number,
): boolean {
  if (!retry) return false;
  const event = reasonRetryEvent(reason);
  if (!event || !retry.on_events.includes(event)) return false;
  if (retry.duration === null || retry.duration === undefined) return true;
  return nowMs - submittedMs < retry.duration * 1000;
}

/**
 * Exponential backoff between attempts: 1 s, 2 s, 4 s, ... capped at 5 minutes (attempt counts
 * from 1 for the first retry).
 */
export function retryDelayMs(attempt: number, baseMs = 1000, capMs = 5 * 60_000): number {
  const exp = Math.max(0, attempt - 1);
  return Math.min(capMs, baseMs * 2 ** Math.min(exp, 30));
}
