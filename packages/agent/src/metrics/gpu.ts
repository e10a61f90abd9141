// GPU samples from `nvidia-smi --query-gpu=index,utilization.gpu,memory.used,memory.total
// --format=csv,noheader,nounits` (what dstack's runner asks for too), and which of the host's GPUs a
// job has.
import type { GpuMetrics, JobSpec } from '@dstack/core/gen/agent';

export const NVIDIA_METRICS_ARGS = ['--query-gpu=index,utilization.gpu,memory.used,memory.total', '--format=csv,noheader,nounits'];

const MIB = 1024 * 1024;

/** A number field; "[N/A]", "[Not Supported]" and the like read as 0. Units ("12 MiB", "40 %") are tolerated. */
function num(field: string | undefined): number {
  const m = /^(\d+(?:\.\d+)?)/.exec((field ?? '').trim());
  return m ? Number(m[1]) : 0;
}

/** One GpuMetrics per line; a header line (plain `--format=csv`) and lines without an index are skipped. */
export function parseNvidiaSmiMetrics(text: string): GpuMetrics[] {
  const gpus: GpuMetrics[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(',').map((s) => s.trim());
    if (f.length < 4 || !/^\d+$/.test(f[0])) continue;
    gpus.push({
      index: Number(f[0]),
      utilizationPercent: Math.round(num(f[1])),
      memoryUsedBytes: Math.round(num(f[2]) * MIB),
      memoryTotalBytes: Math.round(num(f[3]) * MIB),
    });
  }
  return gpus;
}

/**
 * The job's GPUs among the host's (NVIDIA or AMD, whichever tool answered): a job given GPU indices
 * (its blocks of a fleet host) sees those only, through its device request or CUDA_VISIBLE_DEVICES /
 * ROCR_VISIBLE_DEVICES; otherwise a host-mode job sees them all, and a container those of its device
 * request: all of them, every AMD GPU (ROCm's /dev/kfd and /dev/dri are passed whole), or for an
 * NVIDIA count N the host's GPUs 0..N-1 (Docker's `countToDevices` sets NVIDIA_VISIBLE_DEVICES so).
 */
export function jobGpus(spec: Pick<JobSpec, 'gpus'>, runtime: string, host: GpuMetrics[]): GpuMetrics[] {
  const g = spec.gpus;
  const indices = g?.indices ?? [];
  if (indices.length) return host.filter((gpu) => indices.includes(gpu.index));
  if (runtime === 'host') return host;
  if (!g || (!g.all && g.count <= 0)) return [];
  if (g.all || g.vendor === 'amd') return host;
  return host.filter((gpu) => gpu.index < g.count);
}
