import { describe, expect, it } from 'vitest';
import { JobState } from '@dstack/core/gen/agent';
import { exceededLimit, Watchers } from './limits';

const running = (startedMs: number) => ({ state: JobState.JOB_STATE_RUNNING, startedMs });
const limits = (inactivity: number, max: number) => ({ inactivityDurationSeconds: inactivity, maxRunningSeconds: max });

describe('the limits the agent enforces while no daemon watches', () => {
  const t0 = 1_000_000_000;
  it('ends an idle job once it has been unwatched and unused for inactivity_duration, counting from the later of the two', () => {
    // Idle for 10 min, but the daemon left 90 s ago: not yet (120 s limit).
    expect(exceededLimit(limits(120, 0), running(t0), { inactiveSeconds: 600 }, t0 + 510_000, t0 + 600_000)).toBeUndefined();
    expect(exceededLimit(limits(120, 0), running(t0), { inactiveSeconds: 600 }, t0 + 480_000, t0 + 600_000)).toEqual({
      reason: 'inactivity_duration_exceeded',
      message: 'inactive for 120s (inactivity_duration 120s) with no daemon connected',
    });
    // Someone is connected (inactive 0): never.
    expect(exceededLimit(limits(120, 0), running(t0), { inactiveSeconds: 0 }, t0, t0 + 3_600_000)).toBeUndefined();
  });

  it('ends a job at max_duration whatever its activity; nothing for jobs not running or without limits', () => {
    expect(exceededLimit(limits(0, 60), running(t0), { inactiveSeconds: 0 }, t0, t0 + 60_000)?.reason).toBe('max_duration_exceeded');
    expect(exceededLimit(limits(0, 60), running(t0), { inactiveSeconds: 0 }, t0, t0 + 59_000)).toBeUndefined();
    expect(
      exceededLimit(limits(0, 60), { state: JobState.JOB_STATE_STOPPING, startedMs: t0 }, { inactiveSeconds: 0 }, t0, t0 + 3_600_000),
    ).toBeUndefined();
    expect(exceededLimit(undefined, running(t0), { inactiveSeconds: 9999 }, t0, t0 + 3_600_000)).toBeUndefined();
    expect(exceededLimit(limits(0, 0), running(t0), { inactiveSeconds: 9999 }, t0, t0 + 3_600_000)).toBeUndefined();
  });

  it('counts watching daemons; unwatched since the last one left', async () => {
    const w = new Watchers(5);
    expect(w.unwatchedSince()).toBe(5);
    const a = w.watch();
    const b = w.watch();
    expect(w.unwatchedSince()).toBeUndefined();
    a();
    a();
    expect(w.unwatchedSince()).toBeUndefined();
    const before = Date.now();
    b();
    expect(w.unwatchedSince()).toBeGreaterThanOrEqual(before);
  });
});
