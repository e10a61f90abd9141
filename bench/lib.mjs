// Shared bench helpers: timing, medians, and one report line per measurement, always next to a
// baseline measured in the same run (so the ratio means something on whatever machine runs it).
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Milliseconds of one run of fn (sync or async). */
export async function time(fn) {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** Median milliseconds of n runs, after `warmup` unmeasured ones. */
export async function timeMedian(fn, { n = 10, warmup = 1 } = {}) {
  for (let i = 0; i < warmup; i++) await fn();
  const xs = [];
  for (let i = 0; i < n; i++) xs.push(await time(fn));
  return median(xs);
}

/** Runs a command synchronously; throws when it fails (a bench of a broken command means nothing). */
export function sh(cmd, args, opts = {}) {
  const res = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  if (res.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${res.status}): ${res.stderr}`);
  return res.stdout;
}

const rows = [];

/**
 * One line: what was measured, its value, the baseline's, the ratio, and the goal when there is one.
 * Units are milliseconds unless `unit` says otherwise.
 */
export function report({ name, value, baseline, baselineName, goal, unit = 'ms' }) {
  const ratio = baseline ? value / baseline : undefined;
  const fmt = (v) => `${v.toFixed(v < 10 ? 2 : 0)} ${unit}`;
  const parts = [`${name}: ${fmt(value)}`];
  if (baseline !== undefined) parts.push(`${baselineName}: ${fmt(baseline)}`, `ratio ${ratio.toFixed(2)}×`);
  if (goal !== undefined && ratio !== undefined) parts.push(ratio <= goal ? `(goal ≤ ${goal}×: met)` : `(goal ≤ ${goal}×: NOT met)`);
  const line = parts.join('  ');
  rows.push({ name, value, baseline, baselineName, ratio, goal, unit });
  console.log(line);
}

export function results() {
  return rows;
}

/**
 * Bundles TypeScript sources of the repo (`contents` is an entry module, e.g. `export { X } from
 * './packages/.../x.ts';`) into .cache/bench/NAME.cjs for a bench script and loads it; npm packages
 * stay external.
 */
export async function loadBundle(name, contents) {
  const { build } = await import('esbuild');
  const { createRequire } = await import('node:module');
  const { mkdirSync } = await import('node:fs');
  const out = join(root, '.cache/bench', `${name}.cjs`);
  mkdirSync(dirname(out), { recursive: true });
  await build({ stdin: { contents, resolveDir: root, loader: 'ts' }, bundle: true, platform: 'node', format: 'cjs', packages: 'external', outfile: out, logLevel: 'error' });
  return createRequire(import.meta.url)(out);
}
