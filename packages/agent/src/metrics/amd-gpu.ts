// AMD GPU samples from `amd-smi metric --usage --mem-usage --json` (ROCm's AMD SMI CLI; shapes in
// ./fixtures/README.md with their sources): the engine usage's `gfx_activity` and the VRAM in use, per
// GPU. Used where nvidia-smi is absent (sampler.ts `hostGpuMetrics`).
import type { GpuMetrics } from '@dstack/core/gen/agent';

export const AMD_METRICS_ARGS = ['metric', '--usage', '--mem-usage', '--json'];

type Json = Record<string, unknown>;

const MIB = 1024 * 1024;
const obj = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});

/** `{"value": 87, "unit": "%"}` or a bare number → the number; "N/A" and anything else → 0. */
function reading(v: unknown): number {
  const raw = v && typeof v === 'object' ? obj(v).value : v;
  const n = typeof raw === 'number' ? raw : Number.parseFloat(String(raw ?? ''));
  return Number.isFinite(n) ? n : 0;
}

/** A VRAM reading in bytes: amd-smi's "MB" are MiB (196592 MB on a 192 GiB MI300X). */
function bytes(v: unknown): number {
  const unit = String(obj(v).unit ?? 'MB').toUpperCase();
  const scale: Record<string, number> = { B: 1, KB: 1024, MB: MIB, GB: 1024 * MIB };
  return Math.round(reading(v) * (scale[unit] ?? MIB));
}

/** One GpuMetrics per GPU; text that is not amd-smi's JSON gives none. */
export function parseAmdSmiMetrics(text: string): GpuMetrics[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return [];
  }
  // ROCm 6.0-6.2 print an array of GPUs; 6.3+ wrap it as {"gpu_data": [...]}.
  const list = Array.isArray(data) ? data : obj(data).gpu_data;
  if (!Array.isArray(list)) return [];
  return list.map((raw, i) => {
    const g = obj(raw);
    const usage = obj(g.usage);
    const mem = obj(g.mem_usage);
    return {
      index: Number.isInteger(g.gpu) ? (g.gpu as number) : i,
      utilizationPercent: Math.round(reading(usage.gfx_activity)),
      memoryUsedBytes: bytes(mem.used_vram),
      memoryTotalBytes: bytes(mem.total_vram),
    };
  });
}
