import { describe, expect, it } from 'vitest';
import { inactiveSeconds } from './activity';

const idle = { shellSessions: 0, execSessions: 0, sftpSessions: 0, portForwards: 0, inactiveSeconds: 10 };

describe('inactivity', () => {
  it('is unknown until the agent reports', () => {
    expect(inactiveSeconds({ attached: 0 }, 1000)).toBe(-1);
  });
  it('grows from the agent report with our clock', () => {
    expect(inactiveSeconds({ attached: 0, agent: idle, agentAtMs: 1000 }, 6000)).toBe(15);
  });
  it('is zero while an SSH session or an attached CLI is open', () => {
    expect(inactiveSeconds({ attached: 0, agent: { ...idle, shellSessions: 1, inactiveSeconds: 0 }, agentAtMs: 0 }, 99_000)).toBe(0);
    expect(inactiveSeconds({ attached: 1, agent: idle, agentAtMs: 0 }, 99_000)).toBe(0);
  });
  it('counts from the last CLI detach when that is more recent', () => {
    expect(inactiveSeconds({ attached: 0, agent: idle, agentAtMs: 0, lastDetachMs: 95_000 }, 100_000)).toBe(5);
  });
});
