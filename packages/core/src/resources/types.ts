// The normalized resource spec: what `resources:` means once parsed, with dstack's defaults applied.
// Sizes (memory, disk, GPU memory, shm) are in GB (1 GB = 1024 MB, as dstack counts them).

/** An inclusive range; null on a side means unbounded. Never both null; min ≤ max when both are set. */
export interface Range {
  min: number | null;
  max: number | null;
}

export type CpuArch = 'x86' | 'arm';
export type GpuVendor = 'nvidia' | 'amd' | 'google' | 'intel' | 'tenstorrent';

export const CPU_ARCHS: readonly CpuArch[] = ['x86', 'arm'];
export const GPU_VENDORS: readonly GpuVendor[] = ['nvidia', 'amd', 'google', 'intel', 'tenstorrent'];

export interface CpuSpec {
  /** null: not given; x86 is assumed unless the GPU names an NVIDIA superchip (GH200, GB200): arm. */
  arch: CpuArch | null;
  /** Number of cores; default 2.. */
  count: Range;
}

export interface GpuSpec {
  /** null: any vendor (or inferred at match time). */
  vendor: GpuVendor | null;
  /** Accepted GPU names (any of them), as written; null: any name. */
  name: string[] | null;
  /** Number of GPUs: 0.. when `gpu` is omitted, 1.. when given without a count. */
  count: Range;
  /** Memory of each GPU, GB. */
  memory: Range | null;
  /** Memory of all GPUs together, GB. */
  total_memory: Range | null;
  /** Minimum compute capability, "major.minor" (e.g. "8.0"); NVIDIA only. */
  compute_capability: string | null;
}

export interface DiskSpec {
  /** GB; default 100.. */
  size: Range;
}

export interface ResourcesSpec {
  cpu: CpuSpec;
  /** RAM, GB; default 8.. */
  memory: Range;
  /** Shared memory (/dev/shm), GB; null: the runtime's default. */
  shm_size: number | null;
  gpu: GpuSpec;
  disk: DiskSpec;
}
