import { describe, expect, it } from 'vitest';
import { JobState } from '@dstack/core/gen/agent';
import { JOB_STATE_TO_RUN_STATUS, isJobFinished, reasonForEndedJob } from './job-state';

describe('job state → run', () => {
  it('shows active job states as run statuses', () => {
    expect(JOB_STATE_TO_RUN_STATUS[JobState.JOB_STATE_SUBMITTED]).toBe('provisioning');
    expect(JOB_STATE_TO_RUN_STATUS[JobState.JOB_STATE_PULLING]).toBe('pulling');
    expect(JOB_STATE_TO_RUN_STATUS[JobState.JOB_STATE_WAITING_CODE]).toBe('pulling');
    expect(JOB_STATE_TO_RUN_STATUS[JobState.JOB_STATE_STARTING]).toBe('running');
    expect(JOB_STATE_TO_RUN_STATUS[JobState.JOB_STATE_RUNNING]).toBe('running');
    expect(JOB_STATE_TO_RUN_STATUS[JobState.JOB_STATE_STOPPING]).toBeUndefined();
  });

  it('maps how a job ended to dstack reasons', () => {
    const ended = (state: JobState, reason = '', exitCode = 0) => reasonForEndedJob({ state, reason, exitCode });
    expect(ended(JobState.JOB_STATE_DONE)).toBe('done_by_runner');
    expect(ended(JobState.JOB_STATE_TERMINATED)).toBe('terminated_by_server');
    // Ended by the agent at a limit while no daemon watched.
    expect(ended(JobState.JOB_STATE_TERMINATED, 'inactivity_duration_exceeded')).toBe('inactivity_duration_exceeded');
    expect(ended(JobState.JOB_STATE_TERMINATED, 'max_duration_exceeded')).toBe('max_duration_exceeded');
    expect(ended(JobState.JOB_STATE_FAILED, 'image_pull_error')).toBe('creating_container_error');
    expect(ended(JobState.JOB_STATE_FAILED, 'registry_auth_error')).toBe('creating_container_error');
    expect(ended(JobState.JOB_STATE_FAILED, 'init_failed', 1)).toBe('container_exited_with_error');
    // An instance volume the agent could not make or refused.
    expect(ended(JobState.JOB_STATE_FAILED, 'volume_error')).toBe('volume_error');
    expect(ended(JobState.JOB_STATE_FAILED, 'something new', 2)).toBe('container_exited_with_error');
    expect(ended(JobState.JOB_STATE_FAILED, 'something new', 0)).toBe('executor_error');
    expect([JobState.JOB_STATE_DONE, JobState.JOB_STATE_FAILED, JobState.JOB_STATE_TERMINATED].every(isJobFinished)).toBe(true);
    expect(isJobFinished(JobState.JOB_STATE_STOPPING)).toBe(false);
  });
});
