import { describe, expect, it } from 'vitest';
import { parseCpu } from './cpu';
import { Issues } from './errors';

function cpu(v: unknown) {
  const issues = new Issues();
  return { spec: parseCpu(v, issues), issues: issues.list };
}

describe('cpu', () => {
  it.each([
    [16, { arch: null, count: { min: 16, max: 16 } }],
    ['16', { arch: null, count: { min: 16, max: 16 } }],
    ['2..8', { arch: null, count: { min: 2, max: 8 } }],
    ['4..', { arch: null, count: { min: 4, max: null } }],
    ['x86:16', { arch: 'x86', count: { min: 16, max: 16 } }],
    ['arm:8..', { arch: 'arm', count: { min: 8, max: null } }],
    ['2..:ARM', { arch: 'arm', count: { min: 2, max: null } }],
    ['arm', { arch: 'arm', count: { min: 2, max: null } }],
    ['aarch64:4', { arch: 'arm', count: { min: 4, max: 4 } }],
    ['amd64:4', { arch: 'x86', count: { min: 4, max: 4 } }],
    ['x86 : 16', { arch: 'x86', count: { min: 16, max: 16 } }],
    [
      { arch: 'arm', count: '4..' },
      { arch: 'arm', count: { min: 4, max: null } },
    ],
    [{ arch: 'x86' }, { arch: 'x86', count: { min: 2, max: null } }],
    [{ count: 8 }, { arch: null, count: { min: 8, max: 8 } }],
    [
      { min: 2, max: 4 },
      { arch: null, count: { min: 2, max: 4 } },
    ],
  ])('%j → %j', (input, spec) => {
    const r = cpu(input);
    expect(r.issues).toEqual([]);
    expect(r.spec).toEqual(spec);
  });

  it.each([
    ['x86:arm', /architecture twice/, []],
    ['2:4', /count twice/, []],
    ['x86:', /empty token/, []],
    [':16', /empty token/, []],
    ['risc:4', /"risc" is neither a count nor an architecture/, []],
    ['2.5', /neither a count/, []],
    ['8..2', /range order/, []],
    [[2], /got a list/, []],
    [{ arch: 'ppc' }, /invalid CPU architecture "ppc"/, ['arch']],
    [{ count: '..' }, /empty/, ['count']],
    [{ cores: 4 }, /unknown key `cores` in resources.cpu/, ['cores']],
  ])('rejects %j', (input, message, path) => {
    const r = cpu(input);
    expect(r.spec).toBeUndefined();
    expect(r.issues[0].message).toMatch(message);
    expect(r.issues[0].path).toEqual(path);
  });
});
