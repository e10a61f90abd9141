// An offer's or an instance's resources in one line, as dstack's tables print them:
// `2xCPU, 8GB, 100.0GB (disk)`, `9xCPU, 48GB, A5000:24GB`, `96xCPU, 1152GB, A100:80GB:8`.
import type { GpuResources, Resources } from '../gen/daemon';

export type ResourcesLike = Pick<Resources, 'cpus' | 'cpuArch' | 'memoryGb' | 'diskGb' | 'gpus'>;

export interface FormatResourcesOptions {
  /** Show the disk (when known, > 0); default true. dstack's offer table leaves it out. */
  disk?: boolean;
}

export function formatResources(r: ResourcesLike, opts: FormatResourcesOptions = {}): string {
  const parts: string[] = [];
  if (r.cpus > 0) parts.push(`${r.cpuArch === 'arm' ? 'arm:' : ''}${r.cpus}xCPU`);
  if (r.memoryGb > 0) parts.push(`${r.memoryGb.toFixed(0)}GB`);
  for (const g of groupGpus(r.gpus)) {
    const tokens = [g.name || g.vendor || 'GPU'];
    if (g.memoryGb > 0) tokens.push(`${g.memoryGb.toFixed(0)}GB`);
    if (g.count > 1) tokens.push(String(g.count));
    parts.push(tokens.join(':'));
  }
  if (opts.disk !== false && r.diskGb > 0) parts.push(`${r.diskGb.toFixed(1)}GB (disk)`);
  return parts.join(', ');
}

/**
 * GPUs of one kind (same vendor, name and memory) added up, in first-seen order. A count of 0 (proto's
 * unset) counts as one GPU.
 */
export function groupGpus(gpus: readonly GpuResources[]): GpuResources[] {
  const groups = new Map<string, GpuResources>();
  for (const g of gpus) {
    const key = `${g.vendor}\0${g.name}\0${g.memoryGb}`;
    const n = g.count > 0 ? g.count : 1;
    const seen = groups.get(key);
    if (seen) seen.count += n;
    else groups.set(key, { ...g, count: n });
  }
  return [...groups.values()];
}

/** Total number of GPUs. */
export function gpuCount(gpus: readonly GpuResources[]): number {
  return gpus.reduce((n, g) => n + (g.count > 0 ? g.count : 1), 0);
}
