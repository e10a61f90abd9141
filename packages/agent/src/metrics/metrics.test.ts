// The metrics parsers on real outputs (nvidia-smi of an H200 host: ../hostinfo/fixtures, copies of
// /work/shared/fixtures/hosts/h200-ubuntu2404), dstack's utilization_policy window (its
// test_process_running_jobs.py `test_gpu_utilization` cases), and the sampler over fake readers.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JobState, type GpuMetrics, type JobSpec, type MetricsSample } from '@dstack/core/gen/agent';
import { parseAmdSmiMetrics } from './amd-gpu';
import { jobGpus, parseNvidiaSmiMetrics } from './gpu';
import { MetricsSampler, type SampledJob } from './sampler';
import { cpuPercent, parseDockerStats, parseProcStatTicks, parseVmRssBytes, type UsageReading } from './usage';
import { lowUtilization } from './utilization';

const fixture = (name: string) => readFileSync(join(__dirname, '../hostinfo/fixtures', name), 'utf8');
const MIB = 1024 * 1024;

describe('nvidia-smi --query-gpu=index,utilization.gpu,memory.used,memory.total', () => {
  it('reads the H200 host', () => {
    expect(parseNvidiaSmiMetrics(fixture('nvidia-smi-util.csv'))).toEqual([
      { index: 0, utilizationPercent: 0, memoryUsedBytes: 0, memoryTotalBytes: 143771 * MIB },
    ]);
  });

  it('reads several GPUs, a header, units and unknown values', () => {
    const text = [
      'index, utilization.gpu [%], memory.used [MiB], memory.total [MiB]',
      '0, 97 %, 80123 MiB, 143771 MiB',
      '1, [N/A], [N/A], 143771',
      '',
      'garbage',
    ].join('\n');
    expect(parseNvidiaSmiMetrics(text)).toEqual([
      { index: 0, utilizationPercent: 97, memoryUsedBytes: 80123 * MIB, memoryTotalBytes: 143771 * MIB },
      { index: 1, utilizationPercent: 0, memoryUsedBytes: 0, memoryTotalBytes: 143771 * MIB },
    ]);
  });

  it('picks the job’s GPUs: all on the host, 0..N-1 for a container asking for N, all for AMD devices', () => {
    const host = [0, 1, 2, 3].map((index) => ({ index, utilizationPercent: 0, memoryUsedBytes: 0, memoryTotalBytes: 0 }));
    const spec = (count: number, all = false, vendor = '') => ({ gpus: { count, all, vendor, indices: [] } });
    expect(jobGpus(spec(0), 'host', host)).toHaveLength(4);
    expect(jobGpus(spec(2), 'docker', host).map((g) => g.index)).toEqual([0, 1]);
    expect(jobGpus(spec(0, true), 'docker', host)).toHaveLength(4);
    expect(jobGpus(spec(0), 'docker', host)).toEqual([]);
    expect(jobGpus(spec(2, false, 'amd'), 'docker', host)).toHaveLength(4);
  });

  it('narrows a run on a fleet host’s blocks to its own GPU indices, in a container and on the host', () => {
    const host = [0, 1, 2, 3].map((index) => ({ index, utilizationPercent: index * 10, memoryUsedBytes: 0, memoryTotalBytes: 0 }));
    const blocks = (indices: number[], vendor = 'nvidia') => ({ gpus: { count: indices.length, all: false, vendor, indices } });
    expect(jobGpus(blocks([2, 3]), 'docker', host).map((g) => g.index)).toEqual([2, 3]);
    expect(jobGpus(blocks([1]), 'host', host).map((g) => g.index)).toEqual([1]);
    expect(jobGpus(blocks([3], 'amd'), 'docker', host).map((g) => g.index)).toEqual([3]);
  });
});

describe('amd-smi metric --usage --mem-usage --json (shapes in ./fixtures/README.md)', () => {
  const amd = (name: string) => readFileSync(join(__dirname, 'fixtures', name), 'utf8');

  it('reads ROCm 6.3+’s {"gpu_data": [...]}: gfx_activity and VRAM in MiB, "N/A" as 0', () => {
    expect(parseAmdSmiMetrics(amd('amd-smi-metric-mi300x.json'))).toEqual([
      { index: 0, utilizationPercent: 87, memoryUsedBytes: 150210 * MIB, memoryTotalBytes: 196592 * MIB },
      { index: 1, utilizationPercent: 0, memoryUsedBytes: 283 * MIB, memoryTotalBytes: 196592 * MIB },
    ]);
  });

  it('reads ROCm 6.0-6.2’s bare array', () => {
    expect(parseAmdSmiMetrics(amd('amd-smi-metric-rocm62.json'))).toEqual([
      { index: 0, utilizationPercent: 3, memoryUsedBytes: 1024 * MIB, memoryTotalBytes: 65520 * MIB },
    ]);
  });

  it('gives no GPUs for output that is not its JSON', () => {
    expect(parseAmdSmiMetrics('')).toEqual([]);
    expect(parseAmdSmiMetrics('ERROR: amdgpu driver not loaded')).toEqual([]);
    expect(parseAmdSmiMetrics('{"gpu_data": 3}')).toEqual([]);
  });
});

describe('CPU and memory readings', () => {
  it('reads Docker stats: cgroup v2 and v1 working sets', () => {
    expect(
      parseDockerStats({
        cpu_stats: { cpu_usage: { total_usage: 5e9 } },
        memory_stats: { usage: 300 * MIB, stats: { inactive_file: 100 * MIB } },
      }),
    ).toEqual({ cpuNs: 5e9, memoryUsageBytes: 300 * MIB, memoryWorkingSetBytes: 200 * MIB });
    expect(parseDockerStats({ memory_stats: { usage: 10, stats: { total_inactive_file: 4 } } }).memoryWorkingSetBytes).toBe(6);
    expect(parseDockerStats({})).toEqual({ cpuNs: 0, memoryUsageBytes: 0, memoryWorkingSetBytes: 0 });
  });

  it('reads /proc/PID/stat (a command with spaces and parentheses) and status', () => {
    const stat = '4242 (my (odd) cmd) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 7 3 20 0 1 0 12345 1000 200';
    expect(parseProcStatTicks(stat)).toBe(250 + 50 + 7 + 3);
    expect(parseVmRssBytes('Name:\tsh\nVmRSS:\t    1536 kB\nThreads: 1\n')).toBe(1536 * 1024);
    expect(parseVmRssBytes('Name:\tkthreadd\n')).toBe(0);
  });

  it('CPU use is the time used over the time passed, in percent of one CPU, never negative', () => {
    expect(cpuPercent({ atMs: 0, cpuNs: 0 }, { atMs: 5000, cpuNs: 10e9 })).toBe(200);
    expect(cpuPercent({ atMs: 0, cpuNs: 10e9 }, { atMs: 5000, cpuNs: 1e9 })).toBe(0);
    expect(cpuPercent({ atMs: 5000, cpuNs: 0 }, { atMs: 5000, cpuNs: 1e9 })).toBe(0);
  });
});

const gpu = (index: number, utilizationPercent: number): GpuMetrics => ({
  index,
  utilizationPercent,
  memoryUsedBytes: 1024,
  memoryTotalBytes: 2048,
});
const at = (iso: string) => Date.parse(`2023-01-01T${iso}Z`);
/** dstack's samples: GPU 0 at the given utilization, GPU 1 at 100%. */
const dstackSamples = (points: [string, number][]): MetricsSample[] =>
  points.map(([time, util]) => ({
    timeMs: at(time),
    cpuUsagePercent: 0,
    memoryUsageBytes: 0,
    memoryWorkingSetBytes: 0,
    gpus: [gpu(0, util), gpu(1, 100)],
  }));

describe('utilization_policy window (dstack test_gpu_utilization, min 80% over 600 s at 12:30)', () => {
  const policy = { minGpuUtilization: 80, timeWindowSeconds: 600 };
  const now = at('12:30:00');

  it('not-enough-points: the samples do not reach back to the window start', () => {
    const s = dstackSamples([
      ['12:25:20', 30],
      ['12:25:30', 30],
      ['12:29:50', 40],
    ]);
    expect(lowUtilization(policy, s, now)).toBeUndefined();
  });

  it('any-above-min: one sample at the minimum or above keeps the job', () => {
    const s = dstackSamples([
      ['12:20:10', 30],
      ['12:20:20', 30],
      ['12:29:50', 80],
    ]);
    expect(lowUtilization(policy, s, now)).toBeUndefined();
  });

  it('all-below-min: one GPU below all window long ends the job, though the other is busy', () => {
    const s = dstackSamples([
      ['12:10:10', 80],
      ['12:10:20', 80],
      ['12:20:10', 30],
      ['12:20:20', 30],
      ['12:29:50', 40],
    ]);
    expect(lowUtilization(policy, s, now)).toEqual({
      gpus: [{ index: 0, maxPercent: 40 }],
      message: 'The job GPU utilization below 80% for 600 seconds (gpu=0 at most 40%)',
    });
  });

  it('never ends a job with no GPUs, or without a policy', () => {
    const noGpus = dstackSamples([['12:20:10', 0]]).map((s) => ({ ...s, gpus: [] }));
    expect(lowUtilization(policy, noGpus, now)).toBeUndefined();
    expect(lowUtilization(undefined, dstackSamples([['12:20:10', 0]]), now)).toBeUndefined();
  });

  it('a short window (agent callers only) needs samples from its first half', () => {
    const short = { minGpuUtilization: 10, timeWindowSeconds: 10 };
    const s = (offsets: number[]) => offsets.map((o) => dstackSamples([['12:30:00', 0]]).map((x) => ({ ...x, timeMs: now - o * 1000 }))[0]);
    expect(lowUtilization(short, s([4, 0]), now)).toBeUndefined();
    expect(lowUtilization(short, s([6, 0]), now)?.gpus).toEqual([{ index: 0, maxPercent: 0 }]);
  });
});

describe('the sampler', () => {
  function setup(spec: Partial<JobSpec>, runtime = 'host') {
    let clock = 1_000_000;
    let cpuNs = 0;
    let util = 0;
    const ended: { jobId: string; reason: string; message: string }[] = [];
    const notes: string[] = [];
    const job: SampledJob = {
      id: 'j1',
      spec: { gpus: undefined, limits: undefined, ...spec } as JobSpec,
      status: { state: JobState.JOB_STATE_RUNNING, runtime },
      state: { containerId: 'c1' },
      note: (m) => notes.push(m),
    };
    const sampler = new MetricsSampler({
      jobs: () => [job],
      gpus: async () => [gpu(0, util), gpu(1, 50)],
      usage: async (): Promise<UsageReading> => ({ cpuNs, memoryUsageBytes: 300, memoryWorkingSetBytes: 200 }),
      end: (jobId, why) => ended.push({ jobId, ...why }),
      now: () => clock,
    });
    const step = async (ms: number, cpuDeltaNs = 0, gpuUtil = util) => {
      clock += ms;
      cpuNs += cpuDeltaNs;
      util = gpuUtil;
      await sampler.tick();
    };
    return { sampler, step, ended, notes, job };
  }

  it('the first reading is a CPU baseline; then one sample per pass with CPU use, memory and the job’s GPUs', async () => {
    const { sampler, step } = setup({ gpus: { count: 1, all: false, vendor: 'nvidia', indices: [] } }, 'docker');
    await step(0);
    expect(sampler.samples('j1').samples).toEqual([]);
    await step(5000, 2.5e9, 30);
    const [s] = sampler.samples('j1').samples;
    expect(s).toEqual({ timeMs: 1_005_000, cpuUsagePercent: 50, memoryUsageBytes: 300, memoryWorkingSetBytes: 200, gpus: [gpu(0, 30)] });
    expect(sampler.samples('j1', s.timeMs).samples).toEqual([]);
    expect(sampler.samples('j1').intervalSeconds).toBe(5);
  });

  it('a run on a fleet host’s block samples and judges only its own GPU, not an idle neighbour’s', async () => {
    const policy = { minGpuUtilization: 10, timeWindowSeconds: 300 };
    const { sampler, step, ended } = setup(
      {
        gpus: { count: 1, all: false, vendor: 'nvidia', indices: [1] },
        limits: { inactivityDurationSeconds: 0, maxRunningSeconds: 0, utilizationPolicy: policy },
      },
      'host',
    );
    await step(0);
    for (let i = 0; i < 100; i++) await step(5000, 0, 0);
    expect(sampler.samples('j1').samples.every((s) => s.gpus.length === 1 && s.gpus[0].index === 1)).toBe(true);
    expect(ended).toEqual([]);
  });

  it('keeps the last hour only', async () => {
    const { sampler, step } = setup({});
    await step(0);
    for (let i = 0; i < 800; i++) await step(5000);
    const kept = sampler.samples('j1').samples;
    expect(kept.length).toBe(721);
    expect(kept[kept.length - 1].timeMs - kept[0].timeMs).toBe(3600_000);
  });

  it('ends the job once a GPU stayed below the policy all window long, once', async () => {
    const policy = { minGpuUtilization: 10, timeWindowSeconds: 300 };
    const { step, ended } = setup({ limits: { inactivityDurationSeconds: 0, maxRunningSeconds: 0, utilizationPolicy: policy } });
    await step(0);
    for (let i = 0; i < 30; i++) await step(5000, 0, 0); // 150 s: the window is not covered yet
    expect(ended).toEqual([]);
    for (let i = 0; i < 40; i++) await step(5000, 0, 0);
    expect(ended).toEqual([
      {
        jobId: 'j1',
        reason: 'terminated_due_to_utilization_policy',
        message: 'The job GPU utilization below 10% for 300 seconds (gpu=0 at most 0%)',
      },
    ]);
  });

  it('a busy spell inside the window keeps the job', async () => {
    const policy = { minGpuUtilization: 10, timeWindowSeconds: 300 };
    const { step, ended } = setup({ limits: { inactivityDurationSeconds: 0, maxRunningSeconds: 0, utilizationPolicy: policy } });
    await step(0);
    for (let i = 0; i < 50; i++) await step(5000, 0, i === 40 ? 90 : 0);
    expect(ended).toEqual([]);
  });

  it('says once in the job’s log that a job without GPUs is never ended by the policy', async () => {
    const policy = { minGpuUtilization: 10, timeWindowSeconds: 300 };
    const { step, ended, notes } = setup(
      { limits: { inactivityDurationSeconds: 0, maxRunningSeconds: 0, utilizationPolicy: policy } },
      'docker',
    );
    await step(0);
    for (let i = 0; i < 100; i++) await step(5000);
    expect(ended).toEqual([]);
    expect(notes).toEqual([expect.stringMatching(/no GPU to watch, so the policy never ends it/)]);
  });

  it('forgets a job that no longer runs', async () => {
    const { sampler, step, job } = setup({});
    await step(0);
    await step(5000);
    expect(sampler.samples('j1').samples).toHaveLength(1);
    (job.status as { state: JobState }).state = JobState.JOB_STATE_TERMINATED;
    await step(5000);
    expect(sampler.samples('j1').samples).toEqual([]);
  });
});
