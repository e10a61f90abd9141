// Does an offer (or a host) fit a resource spec? The daemon's planner filters offers with this; when
// an offer does not fit, the reason is one short line for "no offer fits" messages:
// "needs 24GB..24GB GPU memory, host has none".
import type { GpuResources } from '../gen/daemon';
import { computeCapabilityOf, lookupGpu, normalizeGpuName, vendorOfGpuName } from '../resources/gpu-catalog';
import { formatGB } from '../resources/memory';
import { fmtNum, formatRangeExplicit, inRange } from '../resources/range';
import { effectiveCpuArch } from '../resources/spec';
import type { GpuSpec, Range, ResourcesSpec } from '../resources/types';
import { formatResources, gpuCount, groupGpus, type ResourcesLike } from './format';

export type FitResult = { fits: true } | { fits: false; reason: string };

const FITS: FitResult = { fits: true };
const no = (reason: string): FitResult => ({ fits: false, reason });
const gb = (n: number) => formatGB(Math.round(n * 10) / 10);
const need = (r: Range, unit: (n: number) => string = fmtNum) => formatRangeExplicit(r, unit);

export function offerFits(spec: ResourcesSpec, r: ResourcesLike): FitResult {
  const arch = effectiveCpuArch(spec);
  const hostArch = r.cpuArch || 'x86';
  if (arch !== hostArch) return no(`needs an ${arch} CPU, host is ${hostArch}`);
  if (!inRange(r.cpus, spec.cpu.count)) return no(`needs ${need(spec.cpu.count)} CPUs, host has ${r.cpus}`);
  if (!inRange(r.memoryGb, spec.memory)) return no(`needs ${need(spec.memory, formatGB)} memory, host has ${gb(r.memoryGb)}`);
  const gpu = gpuFits(spec.gpu, r);
  if (!gpu.fits) return gpu;
  if (!inRange(r.diskGb, spec.disk.size)) return no(`needs ${need(spec.disk.size, formatGB)} disk, host has ${gb(r.diskGb)}`);
  return FITS;
}

function gpuFits(spec: GpuSpec, r: ResourcesLike): FitResult {
  const count = gpuCount(r.gpus);
  if (count === 0) {
    return inRange(0, spec.count) ? FITS : no(`needs ${describeGpuNeed(spec)}, host has none`);
  }
  const has = groupGpus(r.gpus).map(describeHostGpu).join(', ');
  if (!inRange(count, spec.count)) return no(`needs ${need(spec.count)} GPUs, host has ${has}`);
  let total = 0;
  for (const g of r.gpus) {
    const memory = gpuMemory(g);
    const n = g.count > 0 ? g.count : 1;
    if (spec.vendor && gpuVendor(g) !== spec.vendor) return no(`needs ${spec.vendor} GPUs, host has ${has}`);
    if (spec.name && !spec.name.some((name) => normalizeGpuName(name) === normalizeGpuName(g.name))) {
      return no(`needs ${spec.name.join(' or ')} GPUs, host has ${has}`);
    }
    if (spec.memory && (memory === null || !inRange(memory, spec.memory))) {
      return no(`needs ${need(spec.memory, formatGB)} GPU memory, host has ${has}`);
    }
    if (spec.compute_capability && !capabilityAtLeast(computeCapabilityOf(g.name), spec.compute_capability)) {
      return no(`needs compute capability ${spec.compute_capability} or higher, host has ${has}`);
    }
    total += (memory ?? 0) * n;
  }
  if (spec.total_memory && !inRange(total, spec.total_memory)) {
    return no(`needs ${need(spec.total_memory, formatGB)} total GPU memory, host has ${has}`);
  }
  return FITS;
}

/** What a spec asks of the GPUs, for a host that has none: "24GB..24GB GPU memory", "1.. A100 GPUs". */
function describeGpuNeed(spec: GpuSpec): string {
  const onlyMemory = spec.memory && !spec.name && !spec.vendor && spec.count.min === 1 && spec.count.max === null;
  if (onlyMemory) return `${need(spec.memory!, formatGB)} GPU memory`;
  const what = [spec.vendor, spec.name?.join(' or ')].filter(Boolean).join(' ');
  const memory = spec.memory ? ` with ${need(spec.memory, formatGB)} memory` : '';
  return `${need(spec.count)} ${what ? `${what} ` : ''}GPUs${memory}`;
}

function describeHostGpu(g: GpuResources): string {
  return formatResources({ cpus: 0, cpuArch: '', memoryGb: 0, diskGb: 0, gpus: [g] });
}

function gpuVendor(g: GpuResources): string | null {
  return g.vendor ? g.vendor.toLowerCase() : vendorOfGpuName(g.name);
}

/** The host's figure, else the table's when the name comes in one size only; null when unknown. */
function gpuMemory(g: GpuResources): number | null {
  if (g.memoryGb > 0) return g.memoryGb;
  const known = lookupGpu(g.name);
  return known.length === 1 ? known[0].memory_gb : null;
}

function capabilityAtLeast(has: string | null, wanted: string): boolean {
  if (!has) return false;
  const [a, b] = has.split('.').map(Number);
  const [c, d] = wanted.split('.').map(Number);
  return a > c || (a === c && b >= d);
}
