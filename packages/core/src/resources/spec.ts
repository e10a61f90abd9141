// `resources:` as a whole: cpu, memory, shm_size, gpu, disk, each with dstack's default when omitted
// (cpu 2.., memory 8GB.., no GPU required (0..), disk 100GB..), and the inferences dstack makes at
// match time (the CPU architecture from the GPU, the GPU vendor from its names).
import { DEFAULT_CPU_COUNT, parseCpu } from './cpu';
import { DEFAULT_DISK, parseDisk } from './disk';
import { type Issues, asMapping, checkKeys, show, type Path } from './errors';
import { NO_GPU_REQUIRED, parseGpu } from './gpu';
import { isNvidiaSuperchip, vendorOfGpuName } from './gpu-catalog';
import { parseMemory, parseMemoryRange } from './memory';
import type { CpuArch, GpuSpec, GpuVendor, Range, ResourcesSpec } from './types';

export const RESOURCES_KEYS = ['cpu', 'memory', 'shm_size', 'gpu', 'disk'] as const;
export const DEFAULT_MEMORY: Range = { min: 8, max: null };

export function defaultResources(): ResourcesSpec {
  return structuredClone({
    cpu: { arch: null, count: DEFAULT_CPU_COUNT },
    memory: DEFAULT_MEMORY,
    shm_size: null,
    gpu: NO_GPU_REQUIRED,
    disk: DEFAULT_DISK,
  });
}

/** Parses `resources:`; problems go to `issues` (all of them) and the result is undefined. */
export function parseResources(v: unknown, issues: Issues, path: Path = []): ResourcesSpec | undefined {
  const spec = defaultResources();
  if (v === undefined || v === null) return spec;
  const o = asMapping(v);
  if (!o) {
    issues.add(path, `expected a mapping of cpu, memory, shm_size, gpu, disk, got ${show(v)}`);
    return undefined;
  }
  const before = issues.list.length;
  checkKeys(o, RESOURCES_KEYS, 'resources', issues, path);
  const given = (k: string) => o[k] !== undefined && o[k] !== null;
  if (given('cpu')) spec.cpu = parseCpu(o.cpu, issues, [...path, 'cpu']) ?? spec.cpu;
  if (given('memory')) spec.memory = issues.at([...path, 'memory'], () => parseMemoryRange(o.memory)) ?? spec.memory;
  if (given('shm_size')) spec.shm_size = issues.at([...path, 'shm_size'], () => parseMemory(o.shm_size)) ?? null;
  if (given('gpu')) spec.gpu = parseGpu(o.gpu, issues, [...path, 'gpu']) ?? spec.gpu;
  if (given('disk')) spec.disk = parseDisk(o.disk, issues, [...path, 'disk']) ?? spec.disk;
  return issues.list.length > before ? undefined : spec;
}

/** The CPU architecture an offer must have: as given, else arm for NVIDIA superchips, else x86. */
export function effectiveCpuArch(spec: ResourcesSpec): CpuArch {
  if (spec.cpu.arch) return spec.cpu.arch;
  const gpu = spec.gpu;
  const nvidiaOrAny = gpu.vendor === null || gpu.vendor === 'nvidia';
  return nvidiaOrAny && gpu.name?.some(isNvidiaSuperchip) ? 'arm' : 'x86';
}

/**
 * dstack's vendor inference for runs (set_default_gpu_spec_vendor): none when no GPU can be used
 * (count ..0) or the vendor is given; from the names when they all belong to one vendor (null when
 * they are unknown or mixed); with no names, NVIDIA when the run uses the default (CUDA) image, even
 * when `gpu` is left out (0..: a host's GPUs, if any, must be NVIDIA).
 */
export function inferGpuVendor(gpu: GpuSpec, opts: { customImage: boolean }): GpuVendor | null {
  if (gpu.vendor || gpu.count.max === 0) return gpu.vendor;
  if (gpu.name) {
    const vendors = new Set(gpu.name.map(vendorOfGpuName));
    return vendors.size === 1 ? [...vendors][0] : null;
  }
  return opts.customImage ? null : 'nvidia';
}
