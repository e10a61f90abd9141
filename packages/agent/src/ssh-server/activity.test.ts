import { describe, expect, it } from 'vitest';
import type { Activity } from '@dstack/core/gen/agent';
import { ActivityTracker } from './activity';

describe('ActivityTracker', () => {
  it('counts by kind, reports changes, and measures idle time from the last close', () => {
    let now = 1_000_000;
    const seen: Activity[] = [];
    const t = new ActivityTracker(
      (a) => seen.push(a),
      () => now,
    );
    now += 4_500;
    expect(t.snapshot()).toEqual({ shellSessions: 0, execSessions: 0, sftpSessions: 0, portForwards: 0, inactiveSeconds: 4 });
    const closeShell = t.begin('shell');
    const closeFwd = t.begin('portForward');
    expect(seen.at(-1)).toEqual({ shellSessions: 1, execSessions: 0, sftpSessions: 0, portForwards: 1, inactiveSeconds: 0 });
    now += 60_000;
    closeShell();
    closeShell();
    expect(t.snapshot()).toMatchObject({ shellSessions: 0, portForwards: 1, inactiveSeconds: 0 });
    now += 1_000;
    closeFwd();
    now += 2_999;
    expect(t.snapshot()).toEqual({ shellSessions: 0, execSessions: 0, sftpSessions: 0, portForwards: 0, inactiveSeconds: 2 });
    expect(seen).toHaveLength(4);
  });

  it('keeps idle time at zero while a bare connection counts', () => {
    let now = 0;
    const t = new ActivityTracker(undefined, () => now);
    const close = t.begin('connection');
    now += 10_000;
    expect(t.snapshot()).toEqual({ shellSessions: 0, execSessions: 0, sftpSessions: 0, portForwards: 0, inactiveSeconds: 0 });
    close();
    now += 3_000;
    expect(t.snapshot().inactiveSeconds).toBe(3);
  });
});
