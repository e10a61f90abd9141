// What an agent's job state means for the run: a table from JobState to run status, and from the
// agent's failure causes to dstack's termination reasons.
import { JobState, type JobStatus } from '@dstack/core/gen/agent';
import type { TerminationReason } from '@dstack/core/runs/status';

/** The run status an active job state shows as; undefined for the stopping and finished states. */
export const JOB_STATE_TO_RUN_STATUS: Partial<Record<JobState, 'provisioning' | 'pulling' | 'running'>> = {
  [JobState.JOB_STATE_SUBMITTED]: 'provisioning',
  [JobState.JOB_STATE_PULLING]: 'pulling',
  [JobState.JOB_STATE_WAITING_CODE]: 'pulling',
  // The container being made, then init: `ssh NAME` already connects (its session waits for the
  // container) and init runs inside the job, as in dstack. The container id may come in a later status.
  [JobState.JOB_STATE_STARTING]: 'running',
  [JobState.JOB_STATE_RUNNING]: 'running',
};

export function isJobFinished(state: JobState): boolean {
  return state === JobState.JOB_STATE_TERMINATED || state === JobState.JOB_STATE_FAILED || state === JobState.JOB_STATE_DONE;
}

/** The agent's machine-readable FAILED causes (agent.proto JobStatus.reason) → dstack's reasons. */
export const AGENT_FAILURE_REASONS: Record<string, TerminationReason> = {
  image_pull_error: 'creating_container_error',
  registry_auth_error: 'creating_container_error',
  container_error: 'creating_container_error',
  init_failed: 'container_exited_with_error',
  code_error: 'executor_error',
  executor_error: 'executor_error',
  volume_error: 'volume_error',
  aborted: 'aborted_by_user',
};

/**
 * Why a job that ended on its own (not stopped by us) ends the run: done when its process exited 0,
 * else the failure's reason; a job terminated by someone else was interrupted.
 */
export function reasonForEndedJob(status: Pick<JobStatus, 'state' | 'reason' | 'exitCode'>): TerminationReason {
  switch (status.state) {
    case JobState.JOB_STATE_DONE:
      return 'done_by_runner';
    case JobState.JOB_STATE_TERMINATED:
      // The agent ended it at one of the run's limits while no daemon watched (agent job/limits.ts),
      // or by the run's utilization_policy (agent metrics/sampler.ts, watched or not).
      if (
        status.reason === 'inactivity_duration_exceeded' ||
        status.reason === 'max_duration_exceeded' ||
        status.reason === 'terminated_due_to_utilization_policy'
      )
        return status.reason;
      return 'terminated_by_server';
    default:
      return AGENT_FAILURE_REASONS[status.reason] ?? (status.exitCode ? 'container_exited_with_error' : 'executor_error');
  }
}

export function jobStateName(state: JobState): string {
  return JobState[state]?.replace('JOB_STATE_', '').toLowerCase() ?? String(state);
}
