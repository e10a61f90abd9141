// A resource spec in one line, in the grammar it was written in: `cpu=2.. mem=8GB.. disk=100GB..
// gpu=A100:80GB:2`. Plans and "no offer fits" messages print this.
import { formatGB } from './memory';
import { formatRange } from './range';
import type { GpuSpec, ResourcesSpec } from './types';

export function formatResourcesSpec(spec: ResourcesSpec): string {
  const parts = [
    `cpu=${spec.cpu.arch ? `${spec.cpu.arch}:` : ''}${formatRange(spec.cpu.count)}`,
    `mem=${formatRange(spec.memory, formatGB)}`,
    `disk=${formatRange(spec.disk.size, formatGB)}`,
  ];
  if (spec.gpu.count.max !== 0 && !isNoGpuDefault(spec.gpu)) parts.push(`gpu=${formatGpuSpec(spec.gpu)}`);
  if (spec.shm_size !== null) parts.push(`shm=${formatGB(spec.shm_size)}`);
  return parts.join(' ');
}

/** `nvidia:A100:80GB:2`, with total memory and compute capability appended when given. */
export function formatGpuSpec(gpu: GpuSpec): string {
  const tokens: string[] = [];
  if (gpu.vendor) tokens.push(gpu.vendor);
  if (gpu.name) tokens.push(gpu.name.join(','));
  if (gpu.memory) tokens.push(formatRange(gpu.memory, formatGB));
  tokens.push(formatRange(gpu.count));
  let out = tokens.join(':');
  const extra: string[] = [];
  if (gpu.total_memory) extra.push(`total ${formatRange(gpu.total_memory, formatGB)}`);
  if (gpu.compute_capability) extra.push(`cc ${gpu.compute_capability}`);
  if (extra.length) out += ` (${extra.join(', ')})`;
  return out;
}

function isNoGpuDefault(gpu: GpuSpec): boolean {
  // The default image's inferred `nvidia` on a spec that needs no GPU is still "no GPU required".
  return (
    gpu.count.min === 0 &&
    gpu.count.max === null &&
    (!gpu.vendor || gpu.vendor === 'nvidia') &&
    !gpu.name &&
    !gpu.memory &&
    !gpu.total_memory &&
    !gpu.compute_capability
  );
}
