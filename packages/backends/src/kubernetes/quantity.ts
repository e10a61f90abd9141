// Kubernetes resource quantities ("3500m", "16Gi", "1e3", "128974848"), as the API writes them
// (https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/), in base units:
// cores for CPU, bytes for memory, a count for GPUs.
const SUFFIX: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** A quantity's value; 0 for an absent one; NaN for one that does not parse. */
export function parseQuantity(q: string | number | undefined | null): number {
  if (q === undefined || q === null || q === '') return 0;
  if (typeof q === 'number') return q;
  const m = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$/.exec(q.trim());
  if (!m) return Number.NaN;
  const base = Number(m[1]);
  if (m[2]) return base * 10 ** Number(m[2].slice(1));
  return base * SUFFIX[m[3] ?? ''];
}

/** Memory in GB (dstack's GB: 1024 MB) as a quantity the API takes: whole MiB. */
export function memoryQuantity(gb: number): string {
  return `${Math.max(1, Math.round(gb * 1024))}Mi`;
}

/** CPU cores as a quantity: whole cores as they are, else millicores. */
export function cpuQuantity(cores: number): string {
  return Number.isInteger(cores) ? String(cores) : `${Math.round(cores * 1000)}m`;
}
