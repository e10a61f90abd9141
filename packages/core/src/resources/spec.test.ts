import { describe, expect, it } from 'vitest';
import { Issues } from './errors';
import { formatResourcesSpec } from './format';
import { defaultResources, effectiveCpuArch, inferGpuVendor, parseResources } from './spec';
import type { ResourcesSpec } from './types';

function resources(v: unknown): { spec?: ResourcesSpec; issues: Issues['list'] } {
  const issues = new Issues();
  return { spec: parseResources(v, issues), issues: issues.list };
}

describe('resources defaults', () => {
  it('omitted: cpu 2.., memory 8GB.., disk 100GB.., no GPU required (0..)', () => {
    expect(resources(undefined).spec).toEqual({
      cpu: { arch: null, count: { min: 2, max: null } },
      memory: { min: 8, max: null },
      shm_size: null,
      gpu: { vendor: null, name: null, count: { min: 0, max: null }, memory: null, total_memory: null, compute_capability: null },
      disk: { size: { min: 100, max: null } },
    });
  });

  it('a gpu without a count means 1..; other fields keep their defaults', () => {
    const { spec } = resources({ gpu: '24GB' });
    expect(spec!.gpu.count).toEqual({ min: 1, max: null });
    expect(spec!.gpu.memory).toEqual({ min: 24, max: 24 });
    expect(spec!.cpu.count).toEqual({ min: 2, max: null });
    expect(spec!.memory).toEqual({ min: 8, max: null });
    expect(spec!.disk.size).toEqual({ min: 100, max: null });
  });

  it.each([
    [{ disk: '500GB' }, (s: ResourcesSpec) => s.disk.size, { min: 500, max: 500 }],
    [{ disk: { size: '200GB..1TB' } }, (s: ResourcesSpec) => s.disk.size, { min: 200, max: 1024 }],
    [{ disk: 100 }, (s: ResourcesSpec) => s.disk.size, { min: 100, max: 100 }],
    [{ shm_size: '16GB' }, (s: ResourcesSpec) => s.shm_size, 16],
    [{ shm_size: 8 }, (s: ResourcesSpec) => s.shm_size, 8],
    [{ memory: '200GB..' }, (s: ResourcesSpec) => s.memory, { min: 200, max: null }],
    [{ gpu: null }, (s: ResourcesSpec) => s.gpu.count, { min: 0, max: null }],
  ])('%j', (input, pick, expected) => {
    const { spec, issues } = resources(input);
    expect(issues).toEqual([]);
    expect(pick(spec!)).toEqual(expected);
  });

  it('reports every problem at once, each at its path', () => {
    const { spec, issues } = resources({ cpu: 'x', memory: '8GiB', gpu: 'A100::2', disk: { sise: 1 }, shm_size: '1..2', colour: 1 });
    expect(spec).toBeUndefined();
    expect(issues.map((i) => i.path.join('.')).sort()).toEqual(['colour', 'cpu', 'disk', 'disk.sise', 'gpu', 'memory', 'shm_size'].sort());
    expect(issues.find((i) => i.path[0] === 'colour')!.message).toMatch(/unknown key `colour` in resources/);
    expect(issues.find((i) => i.path[1] === 'sise')!.message).toMatch(/did you mean `size`/);
  });

  it.each([
    ['disk', 'x'],
    ['disk', {}],
    ['memory', [8]],
  ])('rejects %s: %j', (key, value) => {
    expect(resources({ [key]: value }).issues[0].path[0]).toBe(key);
  });

  it('rejects a resources value that is not a mapping', () => {
    expect(resources('lots').issues[0].message).toMatch(/expected a mapping/);
  });
});

describe('inference', () => {
  const spec = (gpu: unknown, cpu?: unknown) => resources({ gpu, cpu }).spec!;

  it.each([
    [{ gpu: '24GB' }, false, 'nvidia'],
    [{ gpu: '24GB' }, true, null],
    [{ gpu: 'MI300X' }, false, 'amd'],
    [{ gpu: 'A100,H100' }, true, 'nvidia'],
    [{ gpu: 'A100,MI300X' }, false, null],
    [{ gpu: 'Z9000' }, false, null],
    [{ gpu: 'v2-8' }, false, 'google'],
    [{ gpu: 'amd:24GB' }, false, 'amd'],
    [{ gpu: 0 }, false, null],
    [{}, false, 'nvidia'],
    [{}, true, null],
    [{ gpu: '0..2' }, false, 'nvidia'],
    [{ gpu: 'nvidia:0..2' }, false, 'nvidia'],
  ])('vendor of %j (custom image: %s) → %s', (r, customImage, vendor) => {
    const s = resources(r).spec!;
    expect(inferGpuVendor(s.gpu, { customImage })).toBe(vendor);
  });

  it('infers arm for NVIDIA superchips, x86 otherwise, and keeps an explicit arch', () => {
    expect(effectiveCpuArch(spec('GH200'))).toBe('arm');
    expect(effectiveCpuArch(spec('A100'))).toBe('x86');
    expect(effectiveCpuArch(spec('GH200', 'x86:72'))).toBe('x86');
    expect(effectiveCpuArch(defaultResources())).toBe('x86');
  });
});

describe('formatResourcesSpec', () => {
  it.each([
    [{}, 'cpu=2.. mem=8GB.. disk=100GB..'],
    [{ gpu: '24GB' }, 'cpu=2.. mem=8GB.. disk=100GB.. gpu=24GB:1..'],
    [{ gpu: 'A100:80GB:2', cpu: 'arm:8', shm_size: '16GB' }, 'cpu=arm:8 mem=8GB.. disk=100GB.. gpu=A100:80GB:2 shm=16GB'],
    [
      { gpu: { name: 'H100', total_memory: '160GB..', compute_capability: 9 } },
      'cpu=2.. mem=8GB.. disk=100GB.. gpu=H100:1.. (total 160GB.., cc 9.0)',
    ],
    [{ gpu: 0 }, 'cpu=2.. mem=8GB.. disk=100GB..'],
  ])('%j → %s', (input, text) => {
    expect(formatResourcesSpec(resources(input).spec!)).toBe(text);
  });
});
