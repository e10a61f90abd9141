// dstack's fleet `blocks`: a host's GPUs, CPUs and memory split into N equal blocks (`auto`: one per
// GPU, or one block on a host without GPUs); a run takes k whole blocks and sees only their GPUs.
// Block b holds GPUs [b*g, (b+1)*g) where g = GPUs / N; what does not divide evenly stays unused.
// Disk is not split (dstack shares it too).
import type { Resources } from '@dstack/core/gen/daemon';

export function gpuCount(r: Resources | undefined): number {
  return (r?.gpus ?? []).reduce((n, g) => n + (g.count || 1), 0);
}

/** How many blocks a host is split into; never more than its GPUs when it has some. */
export function totalBlocks(blocks: number | 'auto' | undefined, r: Resources | undefined): number {
  const gpus = gpuCount(r);
  if (blocks === 'auto') return Math.max(1, gpus);
  const n = Math.max(1, blocks ?? 1);
  return gpus > 0 ? Math.min(n, gpus) : n;
}

/** The resources of k of a host's `total` blocks. */
export function blockResources(r: Resources | undefined, total: number, k: number): Resources {
  const base: Resources = r ?? { cpus: 0, cpuArch: '', memoryGb: 0, diskGb: 0, gpus: [], spot: false };
  if (total <= 1) return base;
  const perBlockGpus = Math.floor(gpuCount(base) / total);
  const gpu = base.gpus[0];
  return {
    ...base,
    cpus: Math.floor(base.cpus / total) * k,
    memoryGb: (Math.floor((base.memoryGb / total) * 100) / 100) * k,
    gpus: gpu && perBlockGpus > 0 ? [{ ...gpu, count: perBlockGpus * k }] : [],
  };
}

/** The host GPU indices of these blocks. */
export function blockGpuIndices(r: Resources | undefined, total: number, blocks: number[]): number[] {
  const per = Math.floor(gpuCount(r) / Math.max(1, total));
  return [...blocks].sort((a, b) => a - b).flatMap((b) => Array.from({ length: per }, (_, i) => b * per + i));
}

/** The lowest `k` block indices not in `used`, or undefined when fewer are free. */
export function pickBlocks(total: number, used: Iterable<number>, k: number): number[] | undefined {
  const taken = new Set(used);
  const free: number[] = [];
  for (let b = 0; b < total && free.length < k; b++) if (!taken.has(b)) free.push(b);
  return free.length === k ? free : undefined;
}

/** A run's blocks as the daemon stores them: "0,1/4" (blocks 0 and 1 of 4); '': the whole instance. */
export function formatGpuBlocks(b: { indices: number[]; total: number }): string {
  return `${b.indices.join(',')}/${b.total}`;
}

export function parseGpuBlocks(s: string): { indices: number[]; total: number } | undefined {
  const m = /^([0-9]+(?:,[0-9]+)*)\/([0-9]+)$/.exec(s);
  return m ? { indices: m[1].split(',').map(Number), total: Number(m[2]) } : undefined;
}
