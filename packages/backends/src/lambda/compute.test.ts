import { describe, expect, it } from 'vitest';
import { classifyLambda } from './api';
import { lambdaGpu, lambdaOffers } from './compute';
import { type CloudError, CloudNoCapacityError } from '../cloud/cloud-error';

describe('Lambda instance types as offers', () => {
  it.each([
    ['A10 (24 GB PCIe)', { name: 'A10', memoryGb: 24 }],
    ['H100 (80 GB SXM5)', { name: 'H100', memoryGb: 80 }],
    ['8x A100 (40 GB SXM4)', { name: 'A100', memoryGb: 40 }],
    ['RTX 6000 (24 GB)', { name: 'RTX6000', memoryGb: 24 }],
    ['Tesla V100 (16 GB)', { name: 'V100', memoryGb: 16 }],
    ['GH200 (96 GB)', { name: 'GH200', memoryGb: 96 }],
  ])('reads %s as dstack names it', (desc, want) => {
    expect(lambdaGpu(desc)).toEqual(want);
  });

  it('makes one offer per region with capacity, price in dollars, GPUs counted, GH200 on arm', () => {
    const specs = { vcpus: 30, memory_gib: 200, storage_gib: 1400, gpus: 1 };
    const offers = lambdaOffers({
      gpu_1x_a10: {
        instance_type: { name: 'gpu_1x_a10', description: '1x A10', gpu_description: 'A10 (24 GB PCIe)', price_cents_per_hour: 75, specs },
        regions_with_capacity_available: [
          { name: 'us-east-1', description: 'Virginia' },
          { name: 'us-west-1', description: 'California' },
        ],
      },
      gpu_1x_gh200: {
        instance_type: {
          name: 'gpu_1x_gh200',
          description: '1x GH200',
          gpu_description: 'GH200 (96 GB)',
          price_cents_per_hour: 149,
          specs,
        },
        regions_with_capacity_available: [{ name: 'us-east-3', description: 'Washington DC' }],
      },
      gpu_8x_h100_sxm5: {
        instance_type: {
          name: 'gpu_8x_h100_sxm5',
          description: '8x H100',
          gpu_description: 'H100 (80 GB SXM5)',
          price_cents_per_hour: 2392,
          specs: { ...specs, gpus: 8 },
        },
        regions_with_capacity_available: [],
      },
    });
    expect(offers.map((o) => [o.instanceType, o.region, o.price, o.resources?.cpuArch, o.spot])).toEqual([
      ['gpu_1x_a10', 'us-east-1', 0.75, 'x86', false],
      ['gpu_1x_a10', 'us-west-1', 0.75, 'x86', false],
      ['gpu_1x_gh200', 'us-east-3', 1.49, 'arm', false],
    ]);
    expect(offers[0].resources).toMatchObject({
      cpus: 30,
      memoryGb: 200,
      diskGb: 1400,
      gpus: [{ vendor: 'nvidia', name: 'A10', memoryGb: 24, count: 1 }],
    });
  });
});

describe('Lambda errors', () => {
  const answer = (status: number, code: string, message: string) => ({
    status,
    body: { error: { code, message, suggestion: 'Try again.' } },
    headers: new Headers(),
  });
  it('classifies the documented codes, keeping the provider’s words', () => {
    const noCap = classifyLambda(
      answer(400, 'instance-operations/launch/insufficient-capacity', 'Not enough capacity to fulfill launch request.'),
    );
    expect(noCap).toBeInstanceOf(CloudNoCapacityError);
    expect(noCap?.message).toBe(
      'lambda: no capacity: Not enough capacity to fulfill launch request. Try again. (instance-operations/launch/insufficient-capacity)',
    );
    const kinds = [
      [401, 'global/invalid-api-key', 'credentials'],
      [400, 'global/quota-exceeded', 'quota'],
      [404, 'global/object-does-not-exist', 'not-found'],
      [429, 'global/too-many-requests', 'provider-down'],
      [502, 'global/internal', 'provider-down'],
      [400, 'global/invalid-parameters', 'bad-request'],
    ] as const;
    for (const [status, code, kind] of kinds) expect((classifyLambda(answer(status, code, 'x')) as CloudError).kind).toBe(kind);
    expect(classifyLambda({ status: 200, body: { data: {} }, headers: new Headers() })).toBeUndefined();
    expect(classifyLambda({ status: 502, body: '<html>Bad gateway</html>', headers: new Headers() })?.message).toBe(
      'lambda: provider unavailable: HTTP 502 <html>Bad gateway</html>',
    );
  });
});
