// Ranges as dstack writes them: `a..b`, `a..`, `..b`, or one value `a` (= `a..a`); also the object form
// {min, max}. Items are integers (counts) or sizes (see memory.ts). Empty (`..`) and reversed ranges
// are errors.
import { GrammarError, show } from './errors';
import type { Range } from './types';

export type ItemParser = (v: unknown) => number;

/** Parses a range of items; `what` names the field in messages ("CPU count", "memory"). */
export function parseRange(v: unknown, item: ItemParser, what: string): Range {
  let min: number | null;
  let max: number | null;
  if (typeof v === 'string' && v.includes('..')) {
    const parts = v.replace(/\s+/g, '').split('..');
    if (parts.length !== 2) throw new GrammarError(`invalid ${what} range ${show(v)}: write MIN..MAX, MIN.. or ..MAX`);
    min = parts[0] === '' ? null : item(parts[0]);
    max = parts[1] === '' ? null : item(parts[1]);
  } else if (typeof v === 'string' || typeof v === 'number') {
    min = max = item(v);
  } else if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    const o = v as { min?: unknown; max?: unknown };
    min = o.min === null || o.min === undefined ? null : item(o.min);
    max = o.max === null || o.max === undefined ? null : item(o.max);
  } else {
    throw new GrammarError(`invalid ${what}: expected a value or a range like 2..8, got ${show(v)}`);
  }
  if (min === null && max === null)
    throw new GrammarError(`invalid empty ${what} range ${showRange(v)}: give a minimum, a maximum or both`);
  if (min !== null && max !== null && min > max) {
    throw new GrammarError(`invalid ${what} range order ${showRange(v)}: the minimum is above the maximum`);
  }
  return { min, max };
}

/** The range as the user wrote it: `"80GB..40GB"`, `{min: 80, max: 40}`. */
function showRange(v: unknown): string {
  if (v === null || typeof v !== 'object') return show(v);
  const o = v as Record<string, unknown>;
  const part = (k: string) => (o[k] === undefined ? [] : [`${k}: ${typeof o[k] === 'string' ? JSON.stringify(o[k]) : String(o[k])}`]);
  return `{${[...part('min'), ...part('max')].join(', ')}}`;
}

/** A non-negative integer, as a number or a string of digits. */
export function parseCount(v: unknown): number {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
  if (typeof v === 'string' && /^\s*\d+\s*$/.test(v)) return Number(v);
  throw new GrammarError(`invalid count ${show(v)}: expected a whole number ≥ 0`);
}

export function parseCountRange(v: unknown, what = 'count'): Range {
  return parseRange(v, parseCount, what);
}

/** True when n lies in r (null sides are open). */
export function inRange(n: number, r: Range): boolean {
  return (r.min === null || n >= r.min) && (r.max === null || n <= r.max);
}

/** `2`, `2..`, `..8`, `2..8`; `fmt` formats each end (e.g. adds GB). */
export function formatRange(r: Range, fmt: (n: number) => string = fmtNum): string {
  if (r.min !== null && r.min === r.max) return fmt(r.min);
  return `${r.min === null ? '' : fmt(r.min)}..${r.max === null ? '' : fmt(r.max)}`;
}

/** Always with both ends shown when set: `24GB..24GB`, `8GB..`; used in "needs … " reasons. */
export function formatRangeExplicit(r: Range, fmt: (n: number) => string = fmtNum): string {
  return `${r.min === null ? '' : fmt(r.min)}..${r.max === null ? '' : fmt(r.max)}`;
}

/** Numbers as dstack's `%g`: 24, 0.5, 1536. */
export function fmtNum(n: number): string {
  return String(Number(n.toPrecision(6)));
}
