import { describe, expect, it } from 'vitest';
import { JobState } from '@dstack/core/gen/agent';
import { IllegalTransition, TRANSITIONS, isFinished, next, stateName } from './state';

describe('job state table', () => {
  it('walks the happy path', () => {
    let s = JobState.JOB_STATE_SUBMITTED;
    for (const e of ['pull', 'wait_code', 'start', 'ready', 'stop', 'stopped'] as const) s = next(s, e);
    expect(stateName(s)).toBe('terminated');
  });

  it('lets every unfinished state stop and fail, and finished states take nothing', () => {
    for (const [state, row] of Object.entries(TRANSITIONS)) {
      if (Number(state) === JobState.JOB_STATE_TERMINATED) continue; // resume only: below
      expect(row!.fail, stateName(Number(state))).toBe(JobState.JOB_STATE_FAILED);
      expect(isFinished(Number(state))).toBe(false);
    }
    for (const s of [JobState.JOB_STATE_TERMINATED, JobState.JOB_STATE_FAILED, JobState.JOB_STATE_DONE]) {
      expect(isFinished(s)).toBe(true);
      expect(() => next(s, 'stop')).toThrow(IllegalTransition);
    }
  });

  it('resumes only a terminated job, back to its pull', () => {
    expect(TRANSITIONS[JobState.JOB_STATE_TERMINATED]).toEqual({ resume: JobState.JOB_STATE_SUBMITTED });
    for (const s of [JobState.JOB_STATE_FAILED, JobState.JOB_STATE_DONE, JobState.JOB_STATE_RUNNING, JobState.JOB_STATE_STOPPING])
      expect(() => next(s, 'resume')).toThrow(IllegalTransition);
    expect(next(JobState.JOB_STATE_SUBMITTED, 'pull')).toBe(JobState.JOB_STATE_PULLING);
  });

  it('refuses skipping steps', () => {
    expect(() => next(JobState.JOB_STATE_SUBMITTED, 'ready')).toThrow(/submitted cannot take event ready/);
    expect(() => next(JobState.JOB_STATE_STOPPING, 'stop')).toThrow(IllegalTransition);
  });
});
