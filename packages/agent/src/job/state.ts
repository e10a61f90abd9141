// The job's life as a table of transitions. Job.fire() looks the next state up here, saves it to
// disk, and only then acts on it; an event a state does not list is a bug, and throws.
//
//   submitted ─pull→ pulling ─start→ starting ─ready→ running ─exit_ok→ done
//                       └─wait_code→ waiting_code ─start→ starting
//   any unfinished state ─stop→ stopping ─stopped→ terminated;  ─fail→ failed
//   terminated (its container kept: StopJob keep) ─resume→ submitted: the same job, in the same container
import { JobState } from '@dstack/core/gen/agent';

export type JobEvent = 'pull' | 'wait_code' | 'start' | 'ready' | 'exit_ok' | 'stop' | 'stopped' | 'fail' | 'resume';

const S = JobState;

export const TRANSITIONS: Partial<Record<JobState, Partial<Record<JobEvent, JobState>>>> = {
  [S.JOB_STATE_SUBMITTED]: { pull: S.JOB_STATE_PULLING, stop: S.JOB_STATE_STOPPING, fail: S.JOB_STATE_FAILED },
  [S.JOB_STATE_PULLING]: {
    wait_code: S.JOB_STATE_WAITING_CODE,
    start: S.JOB_STATE_STARTING,
    stop: S.JOB_STATE_STOPPING,
    fail: S.JOB_STATE_FAILED,
  },
  [S.JOB_STATE_WAITING_CODE]: { start: S.JOB_STATE_STARTING, stop: S.JOB_STATE_STOPPING, fail: S.JOB_STATE_FAILED },
  [S.JOB_STATE_STARTING]: { ready: S.JOB_STATE_RUNNING, exit_ok: S.JOB_STATE_DONE, stop: S.JOB_STATE_STOPPING, fail: S.JOB_STATE_FAILED },
  [S.JOB_STATE_RUNNING]: { exit_ok: S.JOB_STATE_DONE, stop: S.JOB_STATE_STOPPING, fail: S.JOB_STATE_FAILED },
  [S.JOB_STATE_STOPPING]: { stopped: S.JOB_STATE_TERMINATED, fail: S.JOB_STATE_FAILED },
  // Only a job whose container was kept (Job.resume checks JobStatus.kept): it starts again from its pull.
  [S.JOB_STATE_TERMINATED]: { resume: S.JOB_STATE_SUBMITTED },
};

export class IllegalTransition extends Error {}

export function next(state: JobState, event: JobEvent): JobState {
  const to = TRANSITIONS[state]?.[event];
  if (to === undefined) throw new IllegalTransition(`job in state ${stateName(state)} cannot take event ${event}`);
  return to;
}

export function isFinished(state: JobState): boolean {
  return state === S.JOB_STATE_TERMINATED || state === S.JOB_STATE_FAILED || state === S.JOB_STATE_DONE;
}

export function stateName(state: JobState): string {
  return (JobState[state] ?? String(state)).replace(/^JOB_STATE_/, '').toLowerCase();
}
