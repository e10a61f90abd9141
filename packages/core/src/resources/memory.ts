// Memory sizes as dstack reads them: a number is GB; a string is a number with MB, GB or TB
// (case-insensitive, spaces allowed: `24GB`, `1.5 tb`, `512MB`). 1 TB = 1024 GB, 1 GB = 1024 MB.
import { GrammarError, show } from './errors';
import { fmtNum, parseRange } from './range';
import type { Range } from './types';

const UNITS: Record<string, number> = { tb: 1024, gb: 1, mb: 1 / 1024 };
const SIZE_RE = /^(\d+(?:\.\d*)?|\.\d+)(tb|gb|mb)?$/;

/** GB in `v`. Throws GrammarError. */
export function parseMemory(v: unknown): number {
  if (typeof v === 'number') {
    if (Number.isFinite(v) && v >= 0) return v;
    throw new GrammarError(`invalid size ${v}: expected a size ≥ 0 like 24GB`);
  }
  if (typeof v === 'string') {
    const m = SIZE_RE.exec(v.replace(/\s+/g, '').toLowerCase());
    if (m) return Number(m[1]) * UNITS[m[2] ?? 'gb'];
    throw new GrammarError(`invalid size ${show(v)}: use a number with MB, GB or TB, e.g. 24GB or 512MB`);
  }
  throw new GrammarError(`invalid size: expected a size like 24GB, got ${show(v)}`);
}

export function parseMemoryRange(v: unknown, what = 'memory'): Range {
  return parseRange(v, parseMemory, what);
}

/** `24GB`, `0.5GB`, `1536GB`. */
export function formatGB(gb: number): string {
  return `${fmtNum(gb)}GB`;
}
