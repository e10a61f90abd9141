// Offers as dstack's plan prints them:
//  #  BACKEND  REGION    RESOURCES                SPOT  PRICE
//  1  runpod   CA-MTL-1  9xCPU, 48GB, A5000:24GB  yes   $0.11
// and `dstack offer --group-by gpu`, one row per GPU model with its count and price ranges.
import type { Offer } from '@dstack/core/gen/daemon';
import { formatResources, gpuCount, groupGpus } from '@dstack/core/offers/format';
import { formatPrice, yesNo } from '../ui/format';
import { renderTable } from '../ui/table';

function availability(o: Offer): string {
  return o.availability && o.availability !== 'available' ? o.availability.replace(/_/g, ' ') : '';
}

export function offersTable(offers: Offer[], total = offers.length): string {
  const rows = offers.map((o, i) => [
    String(i + 1),
    o.backend,
    o.region,
    formatResources(o.resources ?? { cpus: 0, cpuArch: '', memoryGb: 0, diskGb: 0, gpus: [] }),
    yesNo(o.spot),
    formatPrice(o.price),
    availability(o),
  ]);
  if (total > offers.length) rows.push(['', '...']);
  let text = renderTable(['#', 'BACKEND', 'REGION', 'RESOURCES', 'SPOT', 'PRICE', ''], rows);
  if (total > offers.length) text += ` Shown ${offers.length} of ${total} offers\n`;
  return text;
}

export interface GpuGroup {
  name: string;
  memoryGb: number;
  vendor: string;
  count: { min: number; max: number };
  price: { min: number; max: number };
  spot: string[];
  backends: string[];
  availability: string[];
  /** Set when grouped by region too. */
  region?: string;
}

/** What `--group-by` splits GPU groups by, besides the GPU model. */
export interface GroupBy {
  backend?: boolean;
  region?: boolean;
}

/** Offers with GPUs, one group per GPU model (vendor, name, memory), and per backend or region when asked; prices per GPU. */
export function groupByGpu(offers: Offer[], by: GroupBy = {}): GpuGroup[] {
  const groups = new Map<string, GpuGroup>();
  for (const o of offers) {
    const gpus = o.resources?.gpus ?? [];
    if (!gpus.length) continue;
    const g = groupGpus(gpus)[0];
    const n = gpuCount(gpus);
    const key = `${g.vendor}\0${g.name}\0${g.memoryGb}\0${by.backend ? o.backend : ''}\0${by.region ? o.region : ''}`;
    const perGpu = o.price / n;
    const seen = groups.get(key);
    const spot = o.spot ? 'spot' : 'on-demand';
    if (!seen) {
      groups.set(key, {
        name: g.name || g.vendor || 'GPU',
        memoryGb: g.memoryGb,
        vendor: g.vendor,
        count: { min: n, max: n },
        price: { min: perGpu, max: perGpu },
        spot: [spot],
        backends: [o.backend],
        availability: [o.availability || 'available'],
        ...(by.region ? { region: o.region } : {}),
      });
      continue;
    }
    seen.count.min = Math.min(seen.count.min, n);
    seen.count.max = Math.max(seen.count.max, n);
    seen.price.min = Math.min(seen.price.min, perGpu);
    seen.price.max = Math.max(seen.price.max, perGpu);
    if (!seen.spot.includes(spot)) seen.spot.push(spot);
    if (!seen.backends.includes(o.backend)) seen.backends.push(o.backend);
    const av = o.availability || 'available';
    if (!seen.availability.includes(av)) seen.availability.push(av);
  }
  return [...groups.values()].sort(
    (a, b) => a.price.min - b.price.min || a.name.localeCompare(b.name) || a.backends[0].localeCompare(b.backends[0]),
  );
}

const range = (r: { min: number; max: number }, fmt: (n: number) => string = String) =>
  r.min === r.max ? fmt(r.min) : `${fmt(r.min)}..${fmt(r.max)}`;

export function gpuGroupsTable(groups: GpuGroup[], by: GroupBy = {}): string {
  const rows = groups.map((g, i) => [
    String(i + 1),
    `${g.name}:${Math.round(g.memoryGb)}GB:${range(g.count)}`,
    ['spot', 'on-demand'].filter((s) => g.spot.includes(s)).join(', '),
    range(g.price, (n) => formatPrice(n).slice(1)),
    g.backends.join(', '),
    ...(by.region ? [g.region ?? ''] : []),
    g.availability.includes('available') ? '' : g.availability[0].replace(/_/g, ' '),
  ]);
  return renderTable(['#', 'GPU', 'SPOT', '$/GPU', by.backend ? 'BACKEND' : 'BACKENDS', ...(by.region ? ['REGION'] : []), ''], rows);
}
