import { describe, expect, it } from 'vitest';
import { RUN_NAME_RE, generateRunName, isValidRunName } from './names';

describe('run names', () => {
  it.each(['vscode', 'fast-moth-1', 'a1', 'a-', `a${'b'.repeat(40)}`])('%s is valid', (name) => {
    expect(isValidRunName(name)).toBe(true);
  });

  it.each(['a', 'Vscode', '1abc', '-abc', 'my_run', 'my run', `a${'b'.repeat(41)}`, ''])('%j is not', (name) => {
    expect(isValidRunName(name)).toBe(false);
  });

  it('generates <adjective>-<animal>-<n> names that match the rule', () => {
    for (let i = 0; i < 200; i++) {
      const name = generateRunName();
      expect(name).toMatch(/^[a-z]+-[a-z]+-\d{1,2}$/);
      expect(name).toMatch(RUN_NAME_RE);
    }
  });

  it('is deterministic with a given random source, and varies', () => {
    let seed = 1;
    const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const a = generateRunName({ random });
    seed = 1;
    expect(generateRunName({ random })).toBe(a);
    const many = new Set(Array.from({ length: 50 }, () => generateRunName()));
    expect(many.size).toBeGreaterThan(40);
  });

  it('skips names that are taken', () => {
    const taken = new Set<string>();
    let calls = 0;
    const random = () => [0, 0, 0, 0.5, 0.5, 0.5][calls++ % 6];
    const first = generateRunName({ random });
    taken.add(first);
    calls = 0;
    const second = generateRunName({ random, isTaken: (n) => taken.has(n) });
    expect(second).not.toBe(first);
    expect(second).toMatch(RUN_NAME_RE);
  });
});
