// The `gpu` grammar. String form: tokens split on `:`, each one a vendor (nvidia, amd, google or
// `tpu`, intel, tenstorrent or `tt`), names (a comma list starting with a letter: `A10G,A100`),
// a memory size or range (has a unit: `24GB`, `40GB..80GB`) or a count (`2`, `1..`), each at most once,
// in any order: `A100:80GB:2`, `24GB..40GB:2`, `nvidia`, `v2-8`. A bare number is a count. Object form:
// {vendor, name, count, memory, total_memory, compute_capability}. The count defaults to 1.. .
import { GrammarError, type Issues, asMapping, checkKeys, show, type Path } from './errors';
import { parseMemoryRange } from './memory';
import { parseCountRange } from './range';
import type { GpuSpec, GpuVendor, Range } from './types';

export const DEFAULT_GPU_COUNT: Range = { min: 1, max: null };
/** What `gpu` means when omitted: any number of GPUs, none included. */
export const NO_GPU_REQUIRED: GpuSpec = {
  vendor: null,
  name: null,
  count: { min: 0, max: null },
  memory: null,
  total_memory: null,
  compute_capability: null,
};

const GPU_KEYS = ['vendor', 'name', 'count', 'memory', 'total_memory', 'compute_capability'] as const;
const VENDOR_ALIASES: Record<string, GpuVendor> = {
  nvidia: 'nvidia',
  amd: 'amd',
  google: 'google',
  tpu: 'google',
  intel: 'intel',
  tenstorrent: 'tenstorrent',
  tt: 'tenstorrent',
};

export function parseGpuVendor(v: unknown): GpuVendor {
  const vendor = typeof v === 'string' ? VENDOR_ALIASES[v.toLowerCase()] : undefined;
  if (!vendor) throw new GrammarError(`invalid GPU vendor ${show(v)}: use nvidia, amd, google (or tpu), intel or tenstorrent (or tt)`);
  return vendor;
}

/** "8.0" from `8.0`, `"8.0"`, `[8, 0]`; a whole number n reads as "n.0". */
export function parseComputeCapability(v: unknown): string {
  let parts: unknown[] | null = null;
  if (typeof v === 'number') parts = Number.isInteger(v) ? [v, 0] : String(v).split('.');
  else if (typeof v === 'string') parts = v.trim().split('.');
  else if (Array.isArray(v)) parts = v;
  if (parts && parts.length === 2 && parts.every((p) => /^\d+$/.test(String(p).trim()))) {
    return `${Number(parts[0])}.${Number(parts[1])}`;
  }
  throw new GrammarError(`invalid compute capability ${show(v)}: write MAJOR.MINOR, e.g. 8.0`);
}

export function parseGpu(v: unknown, issues: Issues, path: Path = []): GpuSpec | undefined {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) {
      issues.add(path, `invalid GPU spec ${v}: a bare number is a GPU count (whole number); sizes need a unit, e.g. 24GB`);
      return undefined;
    }
    v = String(v);
  }
  if (typeof v === 'string') return issues.at(path, () => parseGpuString(v as string));
  const o = asMapping(v);
  if (!o) {
    issues.add(path, `expected a GPU spec like A100:80GB:2, 24GB or nvidia:2, or a mapping, got ${show(v)}`);
    return undefined;
  }
  const before = issues.list.length;
  checkKeys(o, GPU_KEYS, 'resources.gpu', issues, path);
  const has = (k: string) => o[k] !== undefined && o[k] !== null;
  const spec: GpuSpec = {
    vendor: has('vendor') ? (issues.at([...path, 'vendor'], () => parseGpuVendor(o.vendor)) ?? null) : null,
    name: has('name') ? (issues.at([...path, 'name'], () => parseNames(o.name)) ?? null) : null,
    count: has('count')
      ? (issues.at([...path, 'count'], () => parseCountRange(o.count, 'GPU count')) ?? DEFAULT_GPU_COUNT)
      : DEFAULT_GPU_COUNT,
    memory: has('memory') ? (issues.at([...path, 'memory'], () => parseMemoryRange(o.memory, 'GPU memory')) ?? null) : null,
    total_memory: has('total_memory')
      ? (issues.at([...path, 'total_memory'], () => parseMemoryRange(o.total_memory, 'total GPU memory')) ?? null)
      : null,
    compute_capability: has('compute_capability')
      ? (issues.at([...path, 'compute_capability'], () => parseComputeCapability(o.compute_capability)) ?? null)
      : null,
  };
  return issues.list.length > before ? undefined : spec;
}

/** A name or a list of names; dstack's deprecated `tpu-` prefix is dropped. */
function parseNames(v: unknown): string[] {
  const list = typeof v === 'string' ? v.split(',') : Array.isArray(v) ? v : null;
  if (!list || list.length === 0) throw new GrammarError(`invalid GPU name ${show(v)}: expected a name or a list of names`);
  return list.map((n) => {
    if (typeof n !== 'string' || n.trim() === '') throw new GrammarError(`invalid GPU name ${show(n)}: names are non-empty strings`);
    return stripTpuPrefix(n.trim());
  });
}

function stripTpuPrefix(name: string): string {
  return name.startsWith('tpu-') ? name.slice(4) : name;
}

function parseGpuString(s: string): GpuSpec {
  const spec: Partial<GpuSpec> = {};
  const conflict = (what: string) => new GrammarError(`GPU spec ${show(s)} gives the ${what} twice`);
  for (const token of s.replace(/\s+/g, '').split(':')) {
    if (token === '')
      throw new GrammarError(`GPU spec ${show(s)} has an empty token: write [VENDOR:][NAMES:][MEMORY:][COUNT], e.g. A100:80GB:2`);
    const vendor = VENDOR_ALIASES[token.toLowerCase()];
    if (vendor) {
      if (spec.vendor) throw conflict('vendor');
      spec.vendor = vendor;
    } else if (/^\p{L}/u.test(token)) {
      // A GPU name always starts with a letter.
      if (spec.name) throw conflict('names');
      const names = token.split(',');
      if (names.some((n) => n === '')) throw new GrammarError(`GPU spec ${show(s)} has an empty name in ${show(token)}`);
      spec.name = names.map(stripTpuPrefix);
    } else if (/\p{L}/u.test(token)) {
      // Memory always has a unit.
      if (spec.memory) throw conflict('memory');
      spec.memory = parseMemoryRange(token, 'GPU memory');
    } else {
      if (spec.count) throw conflict('count');
      spec.count = parseCountRange(token, 'GPU count');
    }
  }
  return {
    vendor: spec.vendor ?? null,
    name: spec.name ?? null,
    count: spec.count ?? DEFAULT_GPU_COUNT,
    memory: spec.memory ?? null,
    total_memory: null,
    compute_capability: null,
  };
}
