import { afterEach, describe, expect, it, vi } from 'vitest';
import { sshServerLimits } from '@dstack/core/ssh-server-limits';
import { AuthTries, ConnectionGate, describeDrop, DropLog, type Admission } from './limits';

describe('ConnectionGate', () => {
  const admitted = (a: Admission | string): Admission => {
    if (typeof a === 'string') throw new Error(`refused: ${a}`);
    return a;
  };

  it('refuses one more unauthenticated connection than max_startups, and counts a login out of them', () => {
    const gate = new ConnectionGate({ maxStartups: 2, maxConnections: 100 });
    const a = admitted(gate.admit());
    const b = admitted(gate.admit());
    expect(gate.admit()).toBe('max_startups');
    expect(gate.counts()).toEqual({ unauthenticated: 2, total: 2 });
    a.loggedIn();
    a.loggedIn();
    expect(gate.counts()).toEqual({ unauthenticated: 1, total: 2 });
    const c = admitted(gate.admit());
    expect(gate.admit()).toBe('max_startups');
    b.closed();
    b.closed();
    // A close after the login does not count the login again; a login after the close is ignored.
    c.closed();
    c.loggedIn();
    a.closed();
    expect(gate.counts()).toEqual({ unauthenticated: 0, total: 0 });
  });

  it('refuses one more connection than max_connections, authenticated or not', () => {
    const gate = new ConnectionGate({ maxStartups: 10, maxConnections: 3 });
    const all = [admitted(gate.admit()), admitted(gate.admit()), admitted(gate.admit())];
    for (const a of all) a.loggedIn();
    expect(gate.admit()).toBe('max_connections');
    all[0].closed();
    expect(typeof gate.admit()).toBe('object');
    expect(gate.admit()).toBe('max_connections');
  });
});

describe('AuthTries', () => {
  it('disconnects on the max-th failure; a first "none" and accepted requests are free', () => {
    const tries = new AuthTries(3);
    expect(tries.record('none', true)).toBe(false);
    expect(tries.record('publickey', false)).toBe(false);
    expect(tries.record('publickey', true)).toBe(false);
    expect(tries.record('none', true)).toBe(false);
    expect(tries.record('publickey', true)).toBe(true);
  });

  it('counts a "none" that is not the first request', () => {
    const tries = new AuthTries(2);
    expect(tries.record('publickey', true)).toBe(false);
    expect(tries.record('none', true)).toBe(true);
  });
});

describe('DropLog', () => {
  afterEach(() => vi.useRealTimers());

  it('logs the first drop of each reason, then one count per window while drops go on', () => {
    vi.useFakeTimers();
    const lines: string[] = [];
    const drops = new DropLog((l) => lines.push(l), 10_000);
    for (let i = 0; i < 500; i++) drops.drop('max_startups', `startup ${i}`);
    drops.drop('login_grace_time', 'grace 0');
    expect(lines).toEqual(['startup 0', 'grace 0']);
    vi.advanceTimersByTime(10_000);
    expect(lines.slice(2)).toEqual(['ssh: 499 more dropped for max_startups since the last such line']);
    drops.drop('max_startups', 'startup 500');
    drops.drop('max_startups', 'startup 501');
    vi.advanceTimersByTime(10_000);
    expect(lines.slice(3)).toEqual(['ssh: 2 more dropped for max_startups since the last such line']);
    // A quiet window closes: the next drop is logged whole again.
    vi.advanceTimersByTime(10_000);
    drops.drop('max_startups', 'startup 502');
    drops.drop('max_startups', 'startup 503');
    expect(lines.slice(4)).toEqual(['startup 502']);
    drops.close();
    expect(lines.slice(5)).toEqual(['ssh: 1 more dropped for max_startups since the last such line']);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('limits', () => {
  it('fills what a JobSpec leaves out (or sets to 0) with the defaults', () => {
    expect(sshServerLimits()).toEqual({
      loginGraceTimeSeconds: 30,
      maxStartups: 10,
      maxAuthTries: 6,
      maxConnections: 100,
      maxSessions: 10,
    });
    expect(sshServerLimits({ loginGraceTimeSeconds: 2, maxStartups: 0, maxSessions: 1 })).toEqual({
      loginGraceTimeSeconds: 2,
      maxStartups: 10,
      maxAuthTries: 6,
      maxConnections: 100,
      maxSessions: 1,
    });
  });

  it('names the config key in every drop line', () => {
    const limits = sshServerLimits();
    for (const reason of ['max_connections', 'max_startups', 'login_grace_time', 'max_auth_tries', 'max_sessions'] as const) {
      expect(describeDrop(reason, limits)).toMatch(new RegExp(`\\(${reason}\\)$`));
    }
    expect(describeDrop('login_grace_time', limits)).toBe('closed: not authenticated within 30s (login_grace_time)');
  });
});
