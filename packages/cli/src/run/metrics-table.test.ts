import { describe, expect, it } from 'vitest';
import type { GetMetricsResponse, MetricsSample } from '@dstack/core/gen/daemon';
import { formatMemory, metricsTable, slices, sparkWidth, sparkline } from './metrics-table';

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;
const T0 = new Date(2026, 0, 1, 18, 40).getTime();

function sample(i: number, cpu: number, util: number[]): MetricsSample {
  return {
    timeMs: T0 + i * 5000,
    cpuUsagePercent: cpu,
    memoryUsageBytes: 3 * GIB,
    memoryWorkingSetBytes: 2 * GIB,
    gpus: util.map((u, index) => ({ index, utilizationPercent: u, memoryUsedBytes: 512 * MIB, memoryTotalBytes: 141 * GIB })),
  };
}

const resources = { cpus: 4, cpuArch: 'x86', memoryGb: 16, diskGb: 100, gpus: [], spot: false };

describe('dstack metrics table', () => {
  it('sparklines on a fixed 0..100 scale; each cell the peak of its samples, the last the latest', () => {
    expect(sparkline([0, 50, 100], 10)).toBe('▁▄▇');
    expect(slices([1, 9, 2, 3, 4], 3)).toEqual([9, 3, 4]);
    expect(slices([1, 2], 5)).toEqual([1, 2]);
    expect(sparkWidth(80)).toBe(23);
    expect(sparkWidth(20)).toBe(10);
    expect(sparkWidth(400)).toBe(80);
    expect([formatMemory(512 * MIB), formatMemory(13.4 * GIB)]).toEqual(['512MB', '13GB']);
  });

  it('shows cpu (of all the instance’s CPUs) and each GPU with the latest values; no axis where its stamps do not fit', () => {
    const m: GetMetricsResponse = {
      runName: 'r',
      jobId: 'j',
      resources,
      intervalSeconds: 5,
      samples: [sample(0, 400, [0, 100]), sample(1, 200, [0, 50]), sample(2, 100, [0, 25])],
      utilizationPolicy: { minGpuUtilization: 10, timeWindowSeconds: 1800 },
    };
    const out = metricsTable(m, { columns: 80, nowMs: T0 + 3600_000 });
    expect(out).toBe(
      [
        '        UTILIZATION  MEMORY',
        ' cpu    ▇▄▂ 25%      ▁▁▁ 2GB/16GB',
        '',
        ' gpu=0  ▁▁▁ 0%       ▁▁▁ 512MB/141GB',
        ' gpu=1  ▇▄▂ 25%      ▁▁▁ 512MB/141GB',
        '',
        'utilization_policy: the run ends when a GPU stays below 10% for 30m',
        '',
      ].join('\n'),
    );
  });

  it('draws the axis once there are samples enough to hold its stamps', () => {
    const samples = Array.from({ length: 30 }, (_, i) => sample(i, 0, []));
    const out = metricsTable({ runName: 'r', jobId: 'j', resources, intervalSeconds: 5, samples }, { columns: 80, nowMs: T0 + 29 * 5000 });
    expect(out).toMatch(/^ +18:40 ┄{13} now +18:40 ┄{13} now$/m);
    expect(out).not.toMatch(/gpu=/);
  });

  it('says no data before the first sample, and that a run without GPUs is never ended by its policy', () => {
    const out = metricsTable({
      runName: 'r',
      jobId: '',
      resources,
      intervalSeconds: 0,
      samples: [],
      utilizationPolicy: { minGpuUtilization: 10, timeWindowSeconds: 300 },
    });
    expect(out).toContain(' cpu  no data      no data');
    expect(out).toContain('for 5m (this run has no GPU to watch: the policy never ends it)');
  });
});
