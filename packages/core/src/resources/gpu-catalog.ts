// Accelerators commonly rented, with facts from their vendors' public spec sheets: vendor, memory per
// device (GB) and, for NVIDIA, CUDA compute capability. Used to infer the vendor from a name in a
// resource spec, to check `compute_capability`, and to fill in what a host's detection leaves out.
// Names are matched case-insensitively, ignoring spaces, dashes and underscores (`RTX 4090` = `RTX4090`).
// A name with two memory sizes (A100 40/80GB, V100 16/32GB) has one row per size.
import type { GpuVendor } from './types';

export interface KnownGpu {
  name: string;
  vendor: GpuVendor;
  memory_gb: number;
  /** "major.minor"; null for non-NVIDIA accelerators. */
  compute_capability: string | null;
}

const nv = (name: string, memory_gb: number, compute_capability: string): KnownGpu => ({
  name,
  vendor: 'nvidia',
  memory_gb,
  compute_capability,
});
const other =
  (vendor: GpuVendor) =>
  (name: string, memory_gb: number): KnownGpu => ({
    name,
    vendor,
    memory_gb,
    compute_capability: null,
  });
const amd = other('amd');
const intel = other('intel');
const tt = other('tenstorrent');

export const KNOWN_GPUS: readonly KnownGpu[] = [
  // NVIDIA data center: Blackwell, Hopper, Ada, Ampere, Turing, Volta, Pascal, Maxwell, Kepler.
  nv('B200', 180, '10.0'),
  nv('GB200', 186, '10.0'),
  nv('H200', 141, '9.0'),
  nv('H100', 80, '9.0'),
  nv('H100NVL', 94, '9.0'),
  nv('GH200', 96, '9.0'),
  nv('L40S', 48, '8.9'),
  nv('L40', 48, '8.9'),
  nv('L4', 24, '8.9'),
  nv('A100', 40, '8.0'),
  nv('A100', 80, '8.0'),
  nv('A40', 48, '8.6'),
  nv('A30', 24, '8.0'),
  nv('A10', 24, '8.6'),
  nv('A10G', 24, '8.6'),
  nv('A16', 16, '8.6'),
  nv('A2', 16, '8.6'),
  nv('T4', 16, '7.5'),
  nv('V100', 16, '7.0'),
  nv('V100', 32, '7.0'),
  nv('P100', 16, '6.0'),
  nv('P40', 24, '6.1'),
  nv('P4', 8, '6.1'),
  nv('M60', 8, '5.2'),
  nv('K80', 12, '3.7'),
  // NVIDIA workstation (RTX A-series, Ada, Blackwell).
  nv('RTXPRO6000', 96, '12.0'),
  nv('RTX6000Ada', 48, '8.9'),
  nv('RTX5000Ada', 32, '8.9'),
  nv('RTX4000Ada', 20, '8.9'),
  nv('A6000', 48, '8.6'),
  nv('A5000', 24, '8.6'),
  nv('A4500', 20, '8.6'),
  nv('A4000', 16, '8.6'),
  nv('RTX6000', 24, '7.5'),
  // NVIDIA consumer.
  nv('RTX5090', 32, '12.0'),
  nv('RTX5080', 16, '12.0'),
  nv('RTX4090', 24, '8.9'),
  nv('RTX4080', 16, '8.9'),
  nv('RTX4070Ti', 12, '8.9'),
  nv('RTX3090Ti', 24, '8.6'),
  nv('RTX3090', 24, '8.6'),
  nv('RTX3080Ti', 12, '8.6'),
  nv('RTX3080', 10, '8.6'),
  nv('RTX3070', 8, '8.6'),
  nv('RTX2080Ti', 11, '7.5'),
  // AMD Instinct.
  amd('MI355X', 288),
  amd('MI325X', 256),
  amd('MI300X', 192),
  amd('MI300A', 128),
  amd('MI250X', 128),
  amd('MI250', 128),
  amd('MI210', 64),
  amd('MI100', 32),
  // Intel Gaudi.
  intel('Gaudi', 32),
  intel('Gaudi2', 96),
  intel('Gaudi3', 128),
  // Tenstorrent.
  tt('n150', 12),
  tt('n300', 24),
  tt('p100a', 28),
  tt('p150a', 32),
];

/** Google Cloud TPU versions and HBM per chip (GB); a TPU is named `<version>-<cores>`, e.g. `v2-8`. */
export const TPU_VERSIONS: Readonly<Record<string, number>> = {
  v2: 16,
  v3: 32,
  v4: 32,
  v5litepod: 16,
  v5p: 95,
  v6e: 32,
};

/** NVIDIA Grace superchips: their hosts are ARM. */
const NVIDIA_SUPERCHIPS = new Set(['gh200', 'gb200']);

export function normalizeGpuName(name: string): string {
  return name.toLowerCase().replace(/[\s_-]+/g, '');
}

const byName = new Map<string, KnownGpu[]>();
for (const gpu of KNOWN_GPUS) {
  const key = normalizeGpuName(gpu.name);
  byName.set(key, [...(byName.get(key) ?? []), gpu]);
}

/** Every known row for a name (several for names sold with several memory sizes); [] when unknown. */
export function lookupGpu(name: string): KnownGpu[] {
  return byName.get(normalizeGpuName(name)) ?? [];
}

/** `v2-8` → {version: 'v2', cores: 8}; null when the name is not a known TPU. */
export function parseTpuName(name: string): { version: string; cores: number } | null {
  const m = /^(?:tpu-)?([a-z0-9]+)-(\d+)$/i.exec(name);
  if (!m || !(m[1].toLowerCase() in TPU_VERSIONS)) return null;
  return { version: m[1].toLowerCase(), cores: Number(m[2]) };
}

/** The vendor a name belongs to, or null when the name is unknown. */
export function vendorOfGpuName(name: string): GpuVendor | null {
  const known = lookupGpu(name);
  if (known.length) return known[0].vendor;
  return parseTpuName(name) ? 'google' : null;
}

export function isNvidiaSuperchip(name: string): boolean {
  return NVIDIA_SUPERCHIPS.has(normalizeGpuName(name));
}

/** The compute capability of a known NVIDIA name ("8.0"), or null. */
export function computeCapabilityOf(name: string): string | null {
  return lookupGpu(name).find((g) => g.compute_capability !== null)?.compute_capability ?? null;
}
