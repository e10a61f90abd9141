// Every few seconds, one sample per running job: its CPU use and memory (usage.ts) and its GPUs'
// utilization and memory (one nvidia-smi, else amd-smi, call for all jobs: gpu.ts, amd-gpu.ts), kept in memory for the last hour
// (GetMetrics answers from it). After each sample the job's utilization_policy is checked
// (utilization.ts), whether a daemon watches or not: the samples are the agent's own.
import {
  JobState,
  type GetMetricsResponse,
  type GpuMetrics,
  type JobSpec,
  type JobStatus,
  type MetricsSample,
} from '@dstack/core/gen/agent';
import type { DockerEngine } from '../docker/engine';
import { output } from '../hostinfo/index';
import { logger } from '../logger';
import { AMD_METRICS_ARGS, parseAmdSmiMetrics } from './amd-gpu';
import { NVIDIA_METRICS_ARGS, jobGpus, parseNvidiaSmiMetrics } from './gpu';
import { cpuPercent, dockerUsage, hostUsage, type UsageReading } from './usage';
import { lowUtilization } from './utilization';

export const METRICS_EVERY_MS = 5_000;
/** How long samples are kept: dstack keeps a running job's last hour. */
const KEEP_MS = 60 * 60_000;

/** What the sampler reads of a job (a Job of job.ts). */
export interface SampledJob {
  readonly id: string;
  readonly spec: JobSpec;
  readonly status: Pick<JobStatus, 'state' | 'runtime'>;
  readonly state: { containerId?: string };
  note(message: string): void;
}

export interface SamplerDeps {
  jobs: () => SampledJob[];
  /** The host's GPUs now; [] where neither nvidia-smi nor amd-smi answers. */
  gpus: () => Promise<GpuMetrics[]>;
  /** The job's CPU time and memory now; undefined when it cannot be read (a container gone). */
  usage: (job: SampledJob) => Promise<UsageReading | undefined>;
  /** Stops the job with a reason of the agent's own (JobManager.endAtLimit). */
  end: (jobId: string, why: { reason: string; message: string }) => void;
  now?: () => number;
}

interface Series {
  samples: MetricsSample[];
  /** The last reading's CPU time: a sample's CPU use is the difference to it. */
  prev?: { atMs: number; cpuNs: number };
  /** Said once in the job's log: the policy has no GPU to watch. */
  notedNoGpus?: boolean;
  ended?: boolean;
}

/**
 * nvidia-smi through PATH, as GetHostInfo runs it; where it is missing or fails, amd-smi (ROCm), as
 * dstack's runner picks the host's one vendor.
 */
export async function hostGpuMetrics(): Promise<GpuMetrics[]> {
  const nvidia = await output('nvidia-smi', NVIDIA_METRICS_ARGS, 10_000);
  if (nvidia !== undefined) return parseNvidiaSmiMetrics(nvidia);
  const amd = await output('amd-smi', AMD_METRICS_ARGS, 10_000);
  return amd ? parseAmdSmiMetrics(amd) : [];
}

/** A container's reading from the engine, a host-mode job's from /proc. */
export function readUsage(engine: DockerEngine, job: SampledJob): Promise<UsageReading | undefined> {
  if (job.status.runtime === 'host') return Promise.resolve(hostUsage(job.id));
  const id = job.state.containerId;
  return id ? dockerUsage(engine, id) : Promise.resolve(undefined);
}

const wantsGpus = (job: SampledJob) =>
  job.status.runtime === 'host' || (!!job.spec.gpus && (job.spec.gpus.all || job.spec.gpus.count > 0 || job.spec.gpus.indices.length > 0));

export class MetricsSampler {
  private readonly series = new Map<string, Series>();
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private readonly now: () => number;

  constructor(private readonly d: SamplerDeps) {
    this.now = d.now ?? Date.now;
  }

  start(): void {
    this.timer ??= setInterval(() => void this.tick(), METRICS_EVERY_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One pass over the running jobs; a pass still in progress (a slow engine) makes this one a no-op. */
  async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const running = this.d.jobs().filter((j) => j.status.state === JobState.JOB_STATE_RUNNING);
      for (const id of this.series.keys()) if (!running.some((j) => j.id === id)) this.series.delete(id);
      if (!running.length) return;
      const host = running.some(wantsGpus) ? await this.d.gpus() : [];
      await Promise.all(running.map((j) => this.sample(j, host)));
    } catch (err) {
      logger.warn(`metrics: a sampling pass failed: ${(err as Error).message}`);
    } finally {
      this.busy = false;
    }
  }

  private async sample(job: SampledJob, host: GpuMetrics[]): Promise<void> {
    let s = this.series.get(job.id);
    if (!s) {
      s = { samples: [] };
      this.series.set(job.id, s);
    }
    const reading = await this.d.usage(job).catch(() => undefined);
    if (!reading) return;
    const at = this.now();
    const prev = s.prev;
    s.prev = { atMs: at, cpuNs: reading.cpuNs };
    // The first reading is only the CPU baseline.
    if (!prev) return;
    const gpus = wantsGpus(job) ? jobGpus(job.spec, job.status.runtime, host) : [];
    s.samples.push({
      timeMs: at,
      cpuUsagePercent: Math.round(cpuPercent(prev, s.prev) * 10) / 10,
      memoryUsageBytes: reading.memoryUsageBytes,
      memoryWorkingSetBytes: reading.memoryWorkingSetBytes,
      gpus,
    });
    while (s.samples.length && s.samples[0].timeMs < at - KEEP_MS) s.samples.shift();
    this.checkPolicy(job, s, gpus, at);
  }

  private checkPolicy(job: SampledJob, s: Series, gpus: GpuMetrics[], at: number): void {
    const policy = job.spec.limits?.utilizationPolicy;
    if (!policy || s.ended) return;
    if (!gpus.length && !s.notedNoGpus) {
      s.notedNoGpus = true;
      job.note('utilization_policy: this job has no GPU to watch, so the policy never ends it (as in dstack)');
    }
    const low = lowUtilization(policy, s.samples, at);
    if (!low) return;
    s.ended = true;
    this.d.end(job.id, { reason: 'terminated_due_to_utilization_policy', message: low.message });
  }

  /** Drops a job's samples (it finished: the next pass would drop them too). */
  forget(jobId: string): void {
    this.series.delete(jobId);
  }

  /** GetMetrics: the job's samples after `sinceMs` (0: all kept), oldest first. */
  samples(jobId: string, sinceMs = 0): GetMetricsResponse {
    const all = this.series.get(jobId)?.samples ?? [];
    return { samples: all.filter((s) => s.timeMs > sinceMs), intervalSeconds: METRICS_EVERY_MS / 1000 };
  }
}
