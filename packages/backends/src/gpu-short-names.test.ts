import { describe, expect, it } from 'vitest';
import { dstackGpuName } from './gpu-short-names';

describe("dstack's GPU names", () => {
  it('shortens what nvidia-smi reports', () => {
    const cases: [string, string][] = [
      ['NVIDIA H200', 'H200'],
      ['NVIDIA H100 80GB HBM3', 'H100'],
      ['NVIDIA A100-SXM4-80GB', 'A100'],
      ['NVIDIA L40S', 'L40S'],
      ['Tesla T4', 'T4'],
      ['Tesla V100-SXM2-16GB', 'V100'],
      ['NVIDIA RTX A6000', 'A6000'],
      ['NVIDIA GeForce RTX 4090', 'RTX4090'],
      ['NVIDIA GeForce RTX 3060 Ti', 'RTX3060Ti'],
      ['NVIDIA GeForce RTX 4080 SUPER', 'RTX4080SUPER'],
      ['NVIDIA RTX 6000 Ada Generation', 'RTX6000Ada'],
      ['NVIDIA H100 NVL', 'H100NVL'],
      ['NVIDIA GH200 480GB', 'GH200'],
    ];
    for (const [raw, short] of cases) expect(dstackGpuName('nvidia', raw), raw).toBe(short);
  });

  it('shortens AMD Instinct and Intel Gaudi names, and leaves others as they are', () => {
    expect(dstackGpuName('amd', 'AMD Instinct MI300X')).toBe('MI300X');
    expect(dstackGpuName('amd', 'MI300X-O')).toBe('MI300X');
    expect(dstackGpuName('amd', 'Instinct MI250X OAM')).toBe('MI250X');
    expect(dstackGpuName('intel', 'HL-225')).toBe('Gaudi2');
    expect(dstackGpuName('google', 'v5litepod-8')).toBe('v5litepod-8');
  });
});
