// AMD GPUs from `amd-smi static --asic --vram --bus --driver --json` (ROCm 6+) or, on older hosts,
// `rocm-smi --showproductname --showmeminfo vram --showbus --showdriverversion --json`. Both JSON
// shapes changed across ROCm releases, so fields are looked up by the names those releases use.
import type { Gpu } from '@dstack/core/gen/agent';

export const AMD_SMI_ARGS = ['static', '--asic', '--vram', '--bus', '--driver', '--json'];
export const ROCM_SMI_ARGS = ['--showproductname', '--showmeminfo', 'vram', '--showbus', '--showdriverversion', '--json'];

type Json = Record<string, unknown>;

const obj = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const str = (v: unknown): string => (typeof v === 'string' || typeof v === 'number' ? String(v).trim() : '');

/** "65536 MB", {value: 65536, unit: "MB"}, 68702699520 (bytes) → MiB. */
function mib(v: unknown, defaultUnit: 'B' | 'MB' = 'MB'): number {
  if (v && typeof v === 'object') {
    const o = v as Json;
    return mib(`${str(o.value)} ${str(o.unit)}`, defaultUnit);
  }
  const m = /^([\d.]+)\s*([KMGT]?i?B)?$/i.exec(str(v));
  if (!m) return 0;
  const n = Number(m[1]);
  const unit = (m[2] ?? defaultUnit).toUpperCase().replace('I', '');
  const scale: Record<string, number> = { B: 1 / 1048576, KB: 1 / 1024, MB: 1, GB: 1024, TB: 1024 * 1024 };
  return Math.round(n * (scale[unit] ?? 1));
}

export function parseAmdSmi(text: string): Gpu[] {
  const data = JSON.parse(text) as unknown;
  // ROCm 6.0-6.2 print an array of GPUs; 6.3+ wrap it as {"gpu_data": [...]}.
  const list = Array.isArray(data) ? data : ((obj(data).gpu_data as unknown[]) ?? []);
  return list.map((raw, i) => {
    const g = obj(raw);
    const asic = obj(g.asic);
    const vram = obj(g.vram);
    const bus = obj(g.bus);
    const driver = obj(g.driver);
    return {
      index: Number.isInteger(Number(g.gpu)) ? Number(g.gpu) : i,
      vendor: 'amd',
      name: str(asic.market_name) || str(asic.asic_name) || 'AMD GPU',
      memoryMib: mib(vram.size ?? vram.vram_size),
      uuid: str(asic.asic_serial),
      pciBusId: str(bus.bdf),
      computeCapability: str(asic.target_graphics_version),
      driverVersion: str(driver.version),
    };
  });
}

export function parseRocmSmi(text: string): Gpu[] {
  const data = obj(JSON.parse(text));
  const driver = str(obj(data.system)['Driver version']);
  return Object.entries(data)
    .filter(([key]) => /^card\d+$/.test(key))
    .map(([key, raw]) => {
      const c = obj(raw);
      return {
        index: Number(key.slice(4)),
        vendor: 'amd',
        name: str(c['Card Series']) || str(c['Card series']) || str(c['Card Model']) || 'AMD GPU',
        memoryMib: mib(c['VRAM Total Memory (B)'], 'B'),
        uuid: str(c['Unique ID']),
        pciBusId: str(c['PCI Bus']),
        computeCapability: str(c['GFX Version']),
        driverVersion: driver || str(c['Driver version']),
      };
    })
    .sort((a, b) => a.index - b.index);
}
