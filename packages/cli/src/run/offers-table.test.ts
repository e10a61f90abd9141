import { describe, expect, it } from 'vitest';
import { Offer } from '@dstack/core/gen/daemon';
import { gpuGroupsTable, groupByGpu, offersTable } from './offers-table';

const offer = (backend: string, region: string, cpus: number, mem: number, gpu: string, gpuMem: number, price: number, over = {}) =>
  Offer.fromPartial({
    backend,
    region,
    spot: true,
    price,
    availability: 'available',
    resources: { cpus, memoryGb: mem, gpus: gpu ? [{ name: gpu, memoryGb: gpuMem, count: 1, vendor: 'nvidia' }] : [] },
    ...over,
  });

describe('offersTable', () => {
  it("prints the seed page's plan table", () => {
    const offers = [
      offer('runpod', 'CA-MTL-1', 9, 48, 'A5000', 24, 0.11),
      offer('runpod', 'EU-SE-1', 9, 43, 'A5000', 24, 0.11),
      offer('gcp', 'us-west4', 4, 16, 'L4', 24, 0.214516),
    ];
    expect(offersTable(offers)).toBe(
      [
        ' #  BACKEND  REGION    RESOURCES                SPOT  PRICE',
        ' 1  runpod   CA-MTL-1  9xCPU, 48GB, A5000:24GB  yes   $0.11',
        ' 2  runpod   EU-SE-1   9xCPU, 43GB, A5000:24GB  yes   $0.11',
        ' 3  gcp      us-west4  4xCPU, 16GB, L4:24GB     yes   $0.214516',
        '',
      ].join('\n'),
    );
  });

  it('shows this machine with its disk, on-demand at $0', () => {
    const local = Offer.fromPartial({ backend: 'local', region: 'local', price: 0, resources: { cpus: 2, memoryGb: 8, diskGb: 100 } });
    expect(offersTable([local])).toBe(
      ' #  BACKEND  REGION  RESOURCES                   SPOT  PRICE\n 1  local    local   2xCPU, 8GB, 100.0GB (disk)  no    $0\n',
    );
  });

  it('says when more offers exist than shown, and why an offer is unavailable', () => {
    const busy = offer('ssh', 'remote', 8, 32, 'A100', 80, 0, { availability: 'busy', spot: false });
    const text = offersTable([busy], 7);
    expect(text).toMatch(/ no +\$0 +busy\n/);
    expect(text).toContain('\n    ...\n');
    expect(text).toMatch(/Shown 1 of 7 offers\n$/);
  });
});

describe('groupByGpu', () => {
  it('aggregates count, per-GPU price, spot kinds and backends per GPU model', () => {
    const offers = [
      offer('runpod', 'a', 9, 48, 'A5000', 24, 0.11),
      offer('vastai', 'b', 18, 96, 'A5000', 24, 0.4, {
        spot: false,
        resources: { cpus: 18, memoryGb: 96, gpus: [{ name: 'A5000', memoryGb: 24, count: 2, vendor: 'nvidia' }] },
      }),
      offer('gcp', 'c', 4, 16, 'L4', 24, 0.214516),
      offer('local', 'local', 2, 8, '', 0, 0),
    ];
    const groups = groupByGpu(offers);
    expect(groups.map((g) => g.name)).toEqual(['A5000', 'L4']);
    expect(groups[0]).toMatchObject({
      count: { min: 1, max: 2 },
      price: { min: 0.11, max: 0.2 },
      spot: ['spot', 'on-demand'],
      backends: ['runpod', 'vastai'],
    });
    expect(gpuGroupsTable(groups)).toBe(
      [
        ' #  GPU              SPOT             $/GPU      BACKENDS',
        ' 1  A5000:24GB:1..2  spot, on-demand  0.11..0.2  runpod, vastai',
        ' 2  L4:24GB:1        spot             0.214516   gcp',
        '',
      ].join('\n'),
    );
  });
});

describe('--group-by gpu,backend,region', () => {
  const offers = [
    offer('runpod', 'CA-MTL-1', 9, 48, 'A5000', 24, 0.11),
    offer('runpod', 'EU-SE-1', 9, 43, 'A5000', 24, 0.13),
    offer('lambda', 'us-east-1', 8, 32, 'A5000', 24, 0.5, { spot: false }),
  ];
  it('splits each GPU model by backend, and by region too', () => {
    expect(gpuGroupsTable(groupByGpu(offers, { backend: true }), { backend: true })).toBe(
      [
        ' #  GPU           SPOT       $/GPU       BACKEND',
        ' 1  A5000:24GB:1  spot       0.11..0.13  runpod',
        ' 2  A5000:24GB:1  on-demand  0.5         lambda',
        '',
      ].join('\n'),
    );
    const byRegion = groupByGpu(offers, { backend: true, region: true });
    expect(byRegion.map((g) => [g.backends[0], g.region, g.price.min])).toEqual([
      ['runpod', 'CA-MTL-1', 0.11],
      ['runpod', 'EU-SE-1', 0.13],
      ['lambda', 'us-east-1', 0.5],
    ]);
    expect(gpuGroupsTable(byRegion, { backend: true, region: true }).split('\n')[0]).toBe(
      ' #  GPU           SPOT       $/GPU  BACKEND  REGION',
    );
  });
});
