// The run's limits, enforced here while no daemon watches this agent (its Events stream closed: the
// laptop is shut, asleep, or off the network), so a run still ends on time and its GPUs stop being
// used. A watching daemon decides on its own (it also counts attached CLIs). Inactivity counts from
// the later of the last SSH activity and the moment the last daemon left, so the agent never ends a
// run sooner than the daemon would have.
import { JobState, type Activity, type JobLimits, type JobStatus } from '@dstack/core/gen/agent';

export interface LimitExceeded {
  reason: 'inactivity_duration_exceeded' | 'max_duration_exceeded';
  message: string;
}

/** The limit a running job is past at `now` while unwatched since `unwatchedSinceMs`; undefined within both. */
export function exceededLimit(
  limits: JobLimits | undefined,
  status: Pick<JobStatus, 'state' | 'startedMs'>,
  activity: Pick<Activity, 'inactiveSeconds'>,
  unwatchedSinceMs: number,
  now: number,
): LimitExceeded | undefined {
  if (!limits || status.state !== JobState.JOB_STATE_RUNNING) return undefined;
  const max = limits.maxRunningSeconds;
  if (max > 0 && status.startedMs > 0 && now - status.startedMs >= max * 1000) {
    return {
      reason: 'max_duration_exceeded',
      message: `ran for ${Math.floor((now - status.startedMs) / 1000)}s (max_duration reached) with no daemon connected`,
    };
  }
  const limit = limits.inactivityDurationSeconds;
  if (limit > 0) {
    const inactive = Math.min(activity.inactiveSeconds, Math.floor((now - unwatchedSinceMs) / 1000));
    if (inactive >= limit) {
      return {
        reason: 'inactivity_duration_exceeded',
        message: `inactive for ${inactive}s (inactivity_duration ${limit}s) with no daemon connected`,
      };
    }
  }
  return undefined;
}

/** Counts the daemons watching (Events streams open) and remembers since when none has. */
export class Watchers {
  private count = 0;
  private since: number;

  constructor(now = Date.now()) {
    // An agent that just started has been watched by nobody yet: counted from its start.
    this.since = now;
  }

  /** One stream opened; the returned function closes it (once). */
  watch(): () => void {
    this.count++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.count--;
      if (this.count === 0) this.since = Date.now();
    };
  }

  /** When the last daemon left, or undefined while one watches. */
  unwatchedSince(): number | undefined {
    return this.count > 0 ? undefined : this.since;
  }
}
