import { describe, expect, it } from 'vitest';
import type { GpuResources, Offer, Resources } from '../gen/daemon';
import { Issues } from '../resources/errors';
import { parseResources } from '../resources/spec';
import type { ResourcesSpec } from '../resources/types';
import { offerFits } from './fits';
import { formatResources, gpuCount, groupGpus } from './format';
import { sortOffers } from './sort';

const gpu = (name: string, memoryGb: number, count = 1, vendor = ''): GpuResources => ({ vendor, name, memoryGb, count });
const host = (r: Partial<Resources> = {}): Resources => ({
  cpus: 2,
  cpuArch: 'x86',
  memoryGb: 24,
  diskGb: 80,
  gpus: [],
  spot: false,
  ...r,
});
function spec(v: unknown): ResourcesSpec {
  const issues = new Issues();
  const s = parseResources(v, issues);
  if (!s) throw new Error(issues.list.map((i) => i.message).join('; '));
  return s;
}

describe('formatResources', () => {
  it.each<[Partial<Resources>, string]>([
    [{ cpus: 2, memoryGb: 8, diskGb: 100 }, '2xCPU, 8GB, 100.0GB (disk)'],
    [{ cpus: 9, memoryGb: 48, diskGb: 0, gpus: [gpu('A5000', 24)] }, '9xCPU, 48GB, A5000:24GB'],
    [{ cpus: 4, memoryGb: 16, diskGb: 0, gpus: [gpu('L4', 24)] }, '4xCPU, 16GB, L4:24GB'],
    [{ cpus: 96, memoryGb: 1152, diskGb: 0, gpus: [gpu('A100', 80, 2)] }, '96xCPU, 1152GB, A100:80GB:2'],
    [{ cpus: 96, memoryGb: 1152, diskGb: 0, gpus: [gpu('A100', 80), gpu('A100', 80)] }, '96xCPU, 1152GB, A100:80GB:2'],
    [{ cpus: 8, memoryGb: 32, diskGb: 0, gpus: [gpu('T4', 16), gpu('L4', 24)] }, '8xCPU, 32GB, T4:16GB, L4:24GB'],
    [{ cpus: 8, cpuArch: 'arm', memoryGb: 23.6, diskGb: 79.25 }, 'arm:8xCPU, 24GB, 79.3GB (disk)'],
    [{ cpus: 96, memoryGb: 334, diskGb: 0, gpus: [gpu('v2-8', 0, 1, 'google')] }, '96xCPU, 334GB, v2-8'],
  ])('%j → %s', (r, text) => {
    expect(formatResources(host(r))).toBe(text);
  });

  it('leaves the disk out when asked (dstack offer tables)', () => {
    expect(formatResources(host({ cpus: 2, memoryGb: 8, diskGb: 100 }), { disk: false })).toBe('2xCPU, 8GB');
  });

  it('counts GPUs, an unset count meaning one', () => {
    expect(gpuCount([gpu('A100', 80, 0), gpu('A100', 80, 3)])).toBe(4);
    expect(groupGpus([gpu('A100', 80, 0), gpu('H100', 80, 2), gpu('A100', 80, 1)]).map((g) => [g.name, g.count])).toEqual([
      ['A100', 2],
      ['H100', 2],
    ]);
  });
});

describe('offerFits', () => {
  it.each<[unknown, Partial<Resources>]>([
    [{}, { cpus: 2, memoryGb: 8, diskGb: 100 }],
    [
      { cpu: 2, memory: '4GB..', disk: '10GB..' },
      { cpus: 2, memoryGb: 24, diskGb: 80 },
    ],
    [{ gpu: '24GB' }, { cpus: 9, memoryGb: 48, diskGb: 100, gpus: [gpu('A5000', 24)] }],
    [{ gpu: 'A100:80GB:2' }, { cpus: 24, memoryGb: 200, diskGb: 200, gpus: [gpu('A100', 80, 2)] }],
    [{ gpu: 'a100' }, { cpus: 24, memoryGb: 200, diskGb: 200, gpus: [gpu('A100', 40)] }],
    [{ gpu: 'A10G,A100' }, { cpus: 4, memoryGb: 16, diskGb: 100, gpus: [gpu('A10G', 24)] }],
    [{ gpu: 'nvidia' }, { cpus: 4, memoryGb: 16, diskGb: 100, gpus: [gpu('T4', 0)] }],
    [{ gpu: '16GB' }, { cpus: 4, memoryGb: 16, diskGb: 100, gpus: [gpu('T4', 0)] }],
    [{ gpu: { compute_capability: '8.0' } }, { cpus: 4, memoryGb: 16, diskGb: 100, gpus: [gpu('L4', 24)] }],
    [{ gpu: { total_memory: '160GB..' } }, { cpus: 4, memoryGb: 16, diskGb: 100, gpus: [gpu('H100', 80, 2)] }],
    [{ gpu: 'amd:MI300X' }, { cpus: 4, memoryGb: 16, diskGb: 100, gpus: [gpu('MI300X', 192, 1, 'amd')] }],
    [{}, { cpus: 8, memoryGb: 64, diskGb: 200, gpus: [gpu('A100', 80)] }],
    [{ cpu: 'arm:8..' }, { cpus: 8, cpuArch: 'arm', memoryGb: 64, diskGb: 200 }],
    [{ gpu: 'GH200' }, { cpus: 72, cpuArch: 'arm', memoryGb: 480, diskGb: 200, gpus: [gpu('GH200', 96)] }],
    [{ gpu: 'v2-8' }, { cpus: 96, memoryGb: 334, diskGb: 100, gpus: [gpu('v2-8', 0, 1, 'google')] }],
  ])('%j fits %j', (s, r) => {
    expect(offerFits(spec(s), host(r))).toEqual({ fits: true });
  });

  it.each<[unknown, Partial<Resources>, string]>([
    [{ gpu: '24GB' }, { cpus: 2, memoryGb: 24, diskGb: 100 }, 'needs 24GB..24GB GPU memory, host has none'],
    [{ gpu: 'A100:2' }, { cpus: 2, memoryGb: 24, diskGb: 100 }, 'needs 2..2 A100 GPUs, host has none'],
    [{ gpu: 1 }, { cpus: 2, memoryGb: 24, diskGb: 100 }, 'needs 1..1 GPUs, host has none'],
    [{ cpu: '16..' }, { cpus: 2 }, 'needs 16.. CPUs, host has 2'],
    [{}, { memoryGb: 4 }, 'needs 8GB.. memory, host has 4GB'],
    [{}, { memoryGb: 7.64 }, 'needs 8GB.. memory, host has 7.6GB'],
    [{}, { memoryGb: 24, diskGb: 80 }, 'needs 100GB.. disk, host has 80GB'],
    [{ cpu: 'arm' }, { cpus: 4, memoryGb: 24, diskGb: 100 }, 'needs an arm CPU, host is x86'],
    [{ gpu: 'GH200' }, { cpus: 72, memoryGb: 480, diskGb: 200, gpus: [gpu('GH200', 96)] }, 'needs an arm CPU, host is x86'],
    [{ gpu: 'A100' }, { memoryGb: 24, diskGb: 100, gpus: [gpu('A5000', 24)] }, 'needs A100 GPUs, host has A5000:24GB'],
    [{ gpu: '40GB..' }, { memoryGb: 24, diskGb: 100, gpus: [gpu('A5000', 24)] }, 'needs 40GB.. GPU memory, host has A5000:24GB'],
    [{ gpu: 'A5000:2' }, { memoryGb: 24, diskGb: 100, gpus: [gpu('A5000', 24)] }, 'needs 2..2 GPUs, host has A5000:24GB'],
    [{ gpu: 'amd' }, { memoryGb: 24, diskGb: 100, gpus: [gpu('A5000', 24)] }, 'needs amd GPUs, host has A5000:24GB'],
    [{ gpu: 0 }, { memoryGb: 24, diskGb: 100, gpus: [gpu('A5000', 24)] }, 'needs 0..0 GPUs, host has A5000:24GB'],
    [
      { gpu: { compute_capability: 9.0 } },
      { memoryGb: 24, diskGb: 100, gpus: [gpu('A100', 80)] },
      'needs compute capability 9.0 or higher, host has A100:80GB',
    ],
    [
      { gpu: { total_memory: '100GB..' } },
      { memoryGb: 24, diskGb: 100, gpus: [gpu('L4', 24, 2)] },
      'needs 100GB.. total GPU memory, host has L4:24GB:2',
    ],
    [{ gpu: '24GB' }, { memoryGb: 24, diskGb: 100, gpus: [gpu('A100', 0)] }, 'needs 24GB..24GB GPU memory, host has A100'],
  ])('%j does not fit %j: %s', (s, r, reason) => {
    expect(offerFits(spec(s), host(r))).toEqual({ fits: false, reason });
  });
});

describe('sortOffers', () => {
  const offer = (price: number, extra: Partial<Offer> = {}): Offer => ({
    backend: 'b',
    region: 'r',
    instanceType: `t${price}`,
    spot: false,
    price,
    availability: 'available',
    instanceName: '',
    fleet: '',
    ...extra,
  });

  it('puts the cheapest first and keeps the order of equal offers', () => {
    const offers = [offer(0.214516), offer(0.11, { region: 'CA' }), offer(0.11, { region: 'EU' }), offer(0)];
    expect(sortOffers(offers).map((o) => [o.price, o.region])).toEqual([
      [0, 'r'],
      [0.11, 'CA'],
      [0.11, 'EU'],
      [0.214516, 'r'],
    ]);
    expect(offers[0].price).toBe(0.214516);
  });

  it('at the same price: existing instances first, then available before busy or unavailable', () => {
    const offers = [
      offer(1, { availability: 'not_available' }),
      offer(1, { availability: 'busy' }),
      offer(1),
      offer(1, { instanceName: 'host-1' }),
    ];
    expect(sortOffers(offers).map((o) => o.instanceName || o.availability)).toEqual(['host-1', 'available', 'busy', 'not_available']);
  });
});
