// NVIDIA GPUs from `nvidia-smi --query-gpu=<NVIDIA_FIELDS> --format=csv,noheader,nounits`.
import type { Gpu } from '@dstack/core/gen/agent';

export const NVIDIA_FIELDS = 'index,name,memory.total,uuid,pci.bus_id,compute_cap,driver_version';
export const NVIDIA_ARGS = [`--query-gpu=${NVIDIA_FIELDS}`, '--format=csv,noheader,nounits'];

/** "[N/A]", "N/A" and "[Not Supported]" mean the field is unknown. */
function value(field: string | undefined): string {
  const v = (field ?? '').trim();
  return /^\[?(N\/A|Not Supported|Unknown Error)\]?$/i.test(v) ? '' : v;
}

/**
 * Parses the CSV; tolerates a header line and units ("143771 MiB") so that the output of
 * `--format=csv` without noheader/nounits reads the same. Names never contain commas in practice.
 */
export function parseNvidiaSmi(text: string): Gpu[] {
  const gpus: Gpu[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim() || line.startsWith('index')) continue;
    const f = line.split(',').map((s) => s.trim());
    if (f.length < 7) continue;
    const index = Number(value(f[0]));
    if (!Number.isInteger(index)) continue;
    const mem = /^(\d+)/.exec(value(f[2]));
    gpus.push({
      index,
      vendor: 'nvidia',
      name: value(f[1]),
      memoryMib: mem ? Number(mem[1]) : 0,
      uuid: value(f[3]),
      pciBusId: value(f[4]),
      computeCapability: value(f[5]),
      driverVersion: value(f[6]),
    });
  }
  return gpus;
}
