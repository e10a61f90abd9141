import { describe, expect, it } from 'vitest';
import { Issues } from './errors';
import { parseComputeCapability, parseGpu } from './gpu';
import { computeCapabilityOf, isNvidiaSuperchip, lookupGpu, parseTpuName, vendorOfGpuName } from './gpu-catalog';

function gpu(v: unknown) {
  const issues = new Issues();
  return { spec: parseGpu(v, issues), issues: issues.list };
}

const ONE_OR_MORE = { min: 1, max: null };
const base = { vendor: null, name: null, count: ONE_OR_MORE, memory: null, total_memory: null, compute_capability: null };

describe('gpu string form', () => {
  it.each([
    ['nvidia', { vendor: 'nvidia' }],
    ['A100', { name: ['A100'] }],
    ['A10G,A100', { name: ['A10G', 'A100'] }],
    ['A100:80GB', { name: ['A100'], memory: { min: 80, max: 80 } }],
    ['A100:2', { name: ['A100'], count: { min: 2, max: 2 } }],
    ['24GB..40GB:2', { memory: { min: 24, max: 40 }, count: { min: 2, max: 2 } }],
    ['A100:40GB:2', { name: ['A100'], memory: { min: 40, max: 40 }, count: { min: 2, max: 2 } }],
    ['24GB', { memory: { min: 24, max: 24 } }],
    ['40GB..80GB:4', { memory: { min: 40, max: 80 }, count: { min: 4, max: 4 } }],
    ['2:A100', { name: ['A100'], count: { min: 2, max: 2 } }],
    ['80GB:A100:nvidia', { vendor: 'nvidia', name: ['A100'], memory: { min: 80, max: 80 } }],
    ['amd:MI300X:8', { vendor: 'amd', name: ['MI300X'], count: { min: 8, max: 8 } }],
    ['tpu:v5litepod-8', { vendor: 'google', name: ['v5litepod-8'] }],
    ['google', { vendor: 'google' }],
    ['tt:n150', { vendor: 'tenstorrent', name: ['n150'] }],
    ['intel:Gaudi2', { vendor: 'intel', name: ['Gaudi2'] }],
    ['NVIDIA:2', { vendor: 'nvidia', count: { min: 2, max: 2 } }],
    ['v2-8', { name: ['v2-8'] }],
    ['tpu-v2-8', { name: ['v2-8'] }],
    ['1..', { count: { min: 1, max: null } }],
    ['0', { count: { min: 0, max: 0 } }],
    [2, { count: { min: 2, max: 2 } }],
    ['A100 : 80GB', { name: ['A100'], memory: { min: 80, max: 80 } }],
    ['16GB..:1..2', { memory: { min: 16, max: null }, count: { min: 1, max: 2 } }],
  ])('%j', (input, fields) => {
    const r = gpu(input);
    expect(r.issues).toEqual([]);
    expect(r.spec).toEqual({ ...base, ...fields });
  });

  it.each([
    ['A100::2', /empty token/],
    [':A100', /empty token/],
    ['A100:', /empty token/],
    ['nvidia:amd', /vendor twice/],
    ['A100:H100', /names twice/],
    ['24GB:40GB', /memory twice/],
    ['1:2', /count twice/],
    ['A100,,H100', /empty name/],
    ['A100,', /empty name/],
    ['24GiB', /invalid size "24GiB"/],
    ['40GB..24GB', /range order/],
    ['2..1', /range order/],
    ['..', /empty/],
    [1.5, /bare number is a GPU count/],
    [[], /got a list/],
    [true, /got true/],
  ])('rejects %j', (input, message) => {
    const r = gpu(input);
    expect(r.spec).toBeUndefined();
    expect(r.issues).toHaveLength(1);
    expect(r.issues[0].message).toMatch(message);
  });
});

describe('gpu object form', () => {
  it.each([
    [{ name: 'A100' }, { name: ['A100'] }],
    [
      { name: ['A10G', 'A100'], count: 2 },
      { name: ['A10G', 'A100'], count: { min: 2, max: 2 } },
    ],
    [{ vendor: 'tpu' }, { vendor: 'google' }],
    [
      { vendor: 'AMD', count: '1..2' },
      { vendor: 'amd', count: { min: 1, max: 2 } },
    ],
    [
      { memory: '24GB..', count: '2..' },
      { memory: { min: 24, max: null }, count: { min: 2, max: null } },
    ],
    [{ total_memory: '160GB..' }, { total_memory: { min: 160, max: null } }],
    [{ compute_capability: 8.0 }, { compute_capability: '8.0' }],
    [{ compute_capability: '7.5' }, { compute_capability: '7.5' }],
    [{ compute_capability: [9, 0] }, { compute_capability: '9.0' }],
    [{ count: { min: 1, max: 4 } }, { count: { min: 1, max: 4 } }],
    [{}, {}],
  ])('%j', (input, fields) => {
    const r = gpu(input);
    expect(r.issues).toEqual([]);
    expect(r.spec).toEqual({ ...base, ...fields });
  });

  it('reports every bad field at its own path', () => {
    const r = gpu({ vendor: 'nvdia', count: 'x', memory: '1..', colour: 'red', compute_capability: 'eight' });
    expect(r.spec).toBeUndefined();
    const byPath = Object.fromEntries(r.issues.map((i) => [i.path.join('.'), i.message]));
    expect(byPath.vendor).toMatch(/invalid GPU vendor "nvdia"/);
    expect(byPath.count).toMatch(/invalid count "x"/);
    expect(byPath.colour).toMatch(/unknown key `colour` in resources.gpu/);
    expect(byPath.compute_capability).toMatch(/MAJOR.MINOR/);
    expect(r.issues.find((i) => i.path[0] === 'colour')?.atKey).toBe(true);
    expect(byPath.memory).toBeUndefined();
  });

  it('suggests the key that was meant', () => {
    expect(gpu({ memroy: '24GB' }).issues[0].message).toMatch(/did you mean `memory`/);
  });

  it.each([[''], [[]], [['A100', '']], [5]])('rejects name %j', (name) => {
    expect(gpu({ name }).issues[0].path).toEqual(['name']);
  });
});

describe('compute capability', () => {
  it.each([
    [8, '8.0'],
    [8.6, '8.6'],
    ['9.0', '9.0'],
    [' 7.5 ', '7.5'],
    [['8', '9'], '8.9'],
  ])('%j → %s', (input, cc) => {
    expect(parseComputeCapability(input)).toBe(cc);
  });

  it.each([['8'], ['8.0.1'], ['a.b'], [[8]], [null]])('rejects %j', (input) => {
    expect(() => parseComputeCapability(input)).toThrow(/MAJOR.MINOR/);
  });
});

describe('known GPU names', () => {
  it.each([
    ['A100', 'nvidia'],
    ['a100', 'nvidia'],
    ['RTX 4090', 'nvidia'],
    ['rtx-4090', 'nvidia'],
    ['H100', 'nvidia'],
    ['MI300X', 'amd'],
    ['Gaudi2', 'intel'],
    ['n300', 'tenstorrent'],
    ['v2-8', 'google'],
    ['v5litepod-16', 'google'],
    ['v6e-8', 'google'],
    ['Z9000', null],
    ['v9-8', null],
  ])('%s is %s', (name, vendor) => {
    expect(vendorOfGpuName(name)).toBe(vendor);
  });

  it('knows both sizes of the A100 and the V100', () => {
    expect(
      lookupGpu('A100')
        .map((g) => g.memory_gb)
        .sort(),
    ).toEqual([40, 80]);
    expect(
      lookupGpu('V100')
        .map((g) => g.memory_gb)
        .sort(),
    ).toEqual([16, 32]);
  });

  it('knows compute capabilities and superchips', () => {
    expect(computeCapabilityOf('A100')).toBe('8.0');
    expect(computeCapabilityOf('H100')).toBe('9.0');
    expect(computeCapabilityOf('T4')).toBe('7.5');
    expect(computeCapabilityOf('MI300X')).toBeNull();
    expect(isNvidiaSuperchip('GH200')).toBe(true);
    expect(isNvidiaSuperchip('H100')).toBe(false);
    expect(parseTpuName('v2-8')).toEqual({ version: 'v2', cores: 8 });
  });
});
