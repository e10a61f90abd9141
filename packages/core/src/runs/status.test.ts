import { describe, expect, it } from 'vitest';
import {
  RUN_STATUSES,
  RUN_TRANSITIONS,
  TERMINATION_REASONS,
  canTransition,
  isFinished,
  nextStatuses,
  reasonRetryEvent,
  reasonToStatus,
  retryDelayMs,
  shouldRetry,
  type TerminationReason,
} from './status';

describe('run transitions', () => {
  it('only name known statuses', () => {
    for (const [from, to] of RUN_TRANSITIONS) {
      expect(RUN_STATUSES).toContain(from);
      expect(RUN_STATUSES).toContain(to);
    }
  });

  it('leave no way out of a finished status', () => {
    for (const s of ['terminated', 'failed', 'done'] as const) {
      expect(isFinished(s)).toBe(true);
      expect(nextStatuses(s)).toEqual([]);
    }
  });

  it('follow the happy path and the stop path', () => {
    expect(canTransition('submitted', 'provisioning')).toBe(true);
    expect(canTransition('provisioning', 'pulling')).toBe(true);
    expect(canTransition('pulling', 'running')).toBe(true);
    expect(canTransition('running', 'terminating')).toBe(true);
    expect(canTransition('terminating', 'terminated')).toBe(true);
  });

  it('refuse moves that skip the cleanup or go backwards', () => {
    expect(canTransition('running', 'terminated')).toBe(false);
    expect(canTransition('running', 'pulling')).toBe(false);
    expect(canTransition('terminating', 'running')).toBe(false);
    expect(canTransition('done', 'submitted')).toBe(false);
  });

  it('reach every finished status from terminating, or a retry', () => {
    expect(nextStatuses('terminating').sort()).toEqual(['done', 'failed', 'stopped', 'submitted', 'terminated']);
  });

  it('keep a stopped run (its container kept) until it resumes or its state is discarded', () => {
    expect(isFinished('stopped')).toBe(true);
    expect(canTransition('terminating', 'stopped')).toBe(true);
    // Only the cleanup of a stop reaches it: never straight from a running job.
    for (const s of ['submitted', 'provisioning', 'pulling', 'running'] as const) expect(canTransition(s, 'stopped')).toBe(false);
    expect(nextStatuses('stopped').sort()).toEqual(['submitted', 'terminated']);
    expect(canTransition('terminated', 'stopped')).toBe(false);
  });

  it('let every active status be stopped', () => {
    for (const s of ['submitted', 'provisioning', 'pulling', 'running'] as const) {
      expect(canTransition(s, 'terminating')).toBe(true);
    }
  });
});

describe('termination reasons', () => {
  it('map to statuses as dstack does', () => {
    expect(reasonToStatus('inactivity_duration_exceeded')).toBe('terminated');
    expect(reasonToStatus('max_duration_exceeded')).toBe('terminated');
    expect(reasonToStatus('stopped_by_user')).toBe('terminated');
    expect(reasonToStatus('aborted_by_user')).toBe('terminated');
    expect(reasonToStatus('failed_to_start_due_to_no_capacity')).toBe('failed');
    expect(reasonToStatus('container_exited_with_error')).toBe('failed');
    expect(reasonToStatus('done_by_runner')).toBe('done');
  });

  it('trigger dstack retry events: no-capacity, interruption, error for the other failures', () => {
    expect(reasonRetryEvent('failed_to_start_due_to_no_capacity')).toBe('no-capacity');
    expect(reasonRetryEvent('interrupted_by_no_capacity')).toBe('interruption');
    for (const [name, info] of Object.entries(TERMINATION_REASONS)) {
      const r = name as TerminationReason;
      if (r === 'failed_to_start_due_to_no_capacity' || r === 'interrupted_by_no_capacity') continue;
      if (r === 'job_failed' || r === 'retry_limit_exceeded' || r === 'server_error') continue;
      expect(reasonRetryEvent(r), r).toBe(info.status === 'failed' ? 'error' : undefined);
    }
  });
});

describe('retry', () => {
  const retry = { on_events: ['no-capacity'], duration: 60 };
  it('retries a listed event inside its window only', () => {
    expect(shouldRetry('failed_to_start_due_to_no_capacity', retry, 0, 59_000)).toBe(true);
    expect(shouldRetry('failed_to_start_due_to_no_capacity', retry, 0, 60_000)).toBe(false);
    expect(shouldRetry('container_exited_with_error', retry, 0, 1_000)).toBe(false);
    expect(shouldRetry('stopped_by_user', { on_events: ['error'], duration: 60 }, 0, 1)).toBe(false);
    expect(shouldRetry('failed_to_start_due_to_no_capacity', null, 0, 1)).toBe(false);
  });

  it('backs off exponentially with a cap', () => {
    expect([1, 2, 3, 4].map((a) => retryDelayMs(a))).toEqual([1000, 2000, 4000, 8000]);
    expect(retryDelayMs(40)).toBe(5 * 60_000);
  });
});
