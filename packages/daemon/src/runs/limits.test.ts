import { describe, expect, it } from 'vitest';
import { parseConfiguration, type DevEnvironmentConfiguration } from '@dstack/core/config/index';
import { exceededLimit } from './limits';

function configuration(inactivity: number | null, max: number | null): DevEnvironmentConfiguration {
  const r = parseConfiguration('.dstack.yml', 'type: dev-environment\n');
  if (!r.ok || r.config.type !== 'dev-environment') throw new Error('the default dev environment does not validate');
  return { ...r.config, inactivity_duration: inactivity, max_duration: max };
}

const idle = { shellSessions: 0, execSessions: 0, sftpSessions: 0, portForwards: 0, inactiveSeconds: 0 };
const row = (over: { inactivityDuration?: number | null; maxDuration?: number | null; runningMs?: number; runningSinceMs?: number }) => ({
  configuration: configuration(over.inactivityDuration ?? null, over.maxDuration ?? null),
  runningMs: over.runningMs ?? 0,
  runningSinceMs: over.runningSinceMs ?? 0,
});

describe('run limits', () => {
  it('ends an idle run once inactivity_duration is reached, not before', () => {
    const activity = { attached: 0, agent: idle, agentAtMs: 0 };
    expect(exceededLimit(row({ inactivityDuration: 60 }), activity, 59_000)).toBeUndefined();
    expect(exceededLimit(row({ inactivityDuration: 60 }), activity, 60_000)).toEqual({
      reason: 'inactivity_duration_exceeded',
      message: 'inactive for 60s (inactivity_duration 60s)',
    });
  });
  it('never ends a run for inactivity while it is unknown, off, or someone is attached', () => {
    expect(exceededLimit(row({ inactivityDuration: 1 }), { attached: 0 }, 10_000_000)).toBeUndefined();
    expect(exceededLimit(row({ inactivityDuration: null }), { attached: 0, agent: idle, agentAtMs: 0 }, 10_000_000)).toBeUndefined();
    expect(exceededLimit(row({ inactivityDuration: 1 }), { attached: 1, agent: idle, agentAtMs: 0 }, 10_000_000)).toBeUndefined();
  });
  it('counts max_duration over earlier running spells and the current one', () => {
    const r = row({ maxDuration: 100, runningMs: 40_000, runningSinceMs: 1_000_000 });
    expect(exceededLimit(r, { attached: 1 }, 1_059_999)).toBeUndefined();
    expect(exceededLimit(r, { attached: 1 }, 1_060_500)).toEqual({
      reason: 'max_duration_exceeded',
      message: 'ran for 100s (max_duration 100s)',
    });
  });
  it('names inactivity first when both are past', () => {
    const r = row({ inactivityDuration: 5, maxDuration: 5, runningSinceMs: 1 });
    expect(exceededLimit(r, { attached: 0, agent: idle, agentAtMs: 0 }, 100_000)?.reason).toBe('inactivity_duration_exceeded');
  });
});
