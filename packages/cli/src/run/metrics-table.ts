// `dstack metrics NAME` as dstack's CLI draws it (dstack's cli/utils/metrics.py): a row for the job's
// CPU and one per GPU (`gpu=N`), with a UTILIZATION and a MEMORY column, each cell a sparkline over
// the samples (fixed 0..100% scale, a cell's height the peak of the samples it covers, the last
// cell the latest sample) and the latest value; then a time axis. Plain text, no colours.
import type { GetMetricsResponse, MetricsSample } from '@dstack/core/gen/daemon';
import { formatDuration } from '@dstack/core/duration';
import { renderTable } from '../ui/table';
import { prettyDate } from '../ui/time-format';

/** dstack's sparks: no full block, which fuses consecutive rows into one mass. */
const SPARKS = '▁▂▃▄▅▆▇';
const NO_DATA = 'no data';
const AXIS_RULE = '┄';
const MIN_SPARK_WIDTH = 10;
const MAX_SPARK_WIDTH = 80;
/** Labels, numbers and padding, as dstack measured them. */
const FIXED_COLUMNS = 34;
const GIB = 1024 ** 3;

/** How many cells a sparkline gets on a terminal this wide (two sparklines per row). */
export function sparkWidth(columns: number): number {
  return Math.max(MIN_SPARK_WIDTH, Math.min(MAX_SPARK_WIDTH, Math.floor((columns - FIXED_COLUMNS) / 2)));
}

/** The peak of each cell's samples, oldest first; the last cell is the latest sample alone (dstack's `slices`). */
export function slices(values: readonly number[], width: number): number[] {
  if (width < 1) return [];
  if (width === 1 || values.length <= width) return values.slice(-width);
  const history = values.slice(0, -1);
  const out: number[] = [];
  for (let i = 0; i < width - 1; i++) {
    const lo = Math.floor((i * history.length) / (width - 1));
    const hi = Math.max(lo + 1, Math.floor(((i + 1) * history.length) / (width - 1)));
    out.push(Math.max(...history.slice(lo, hi)));
  }
  out.push(values[values.length - 1]);
  return out;
}

/** Percentages (0..100, clamped) as sparks. */
export function sparkline(percents: readonly number[], width: number): string {
  return slices(percents, width)
    .map((p) => SPARKS[Math.floor((Math.max(0, Math.min(100, p)) / 100) * (SPARKS.length - 1))])
    .join('');
}

/** dstack's format_memory with no decimals: `512MB`, `13GB`. */
export function formatMemory(bytes: number): string {
  const mb = bytes / 1024 / 1024;
  return mb >= 1024 ? `${Math.round(mb / 1024)}GB` : `${Math.round(mb)}MB`;
}

function cell(percents: number[], label: string, width: number): string {
  return percents.length ? `${sparkline(percents, width)} ${label}` : NO_DATA;
}

function levelCell(values: number[], total: number, width: number): string {
  if (!values.length) return NO_DATA;
  const last = values[values.length - 1];
  const percents = total ? values.map((v) => (v / total) * 100) : values;
  return cell(percents, total ? `${formatMemory(last)}/${formatMemory(total)}` : formatMemory(last), width);
}

function clock(timeMs: number, nowMs: number): string {
  if (prettyDate(timeMs, nowMs) === 'now') return 'now';
  const d = new Date(timeMs);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

/** `<oldest> ┄┄┄ <newest>`, as wide as the sparkline drawn over it; empty where the stamps do not fit. */
function axis(samples: readonly MetricsSample[], width: number, nowMs: number): string {
  const drawn = Math.min(width, samples.length);
  const left = clock(samples[0].timeMs, nowMs);
  const right = clock(samples[samples.length - 1].timeMs, nowMs);
  const fill = drawn - left.length - right.length - 2;
  return fill < 1 ? '' : `${left} ${AXIS_RULE.repeat(fill)} ${right}`;
}

export function metricsTable(m: GetMetricsResponse, opts: { columns?: number; nowMs?: number } = {}): string {
  const width = sparkWidth(opts.columns ?? 100);
  const nowMs = opts.nowMs ?? Date.now();
  const samples = m.samples;
  const cpus = m.resources?.cpus ?? 0;
  const cpu = samples.map((s) => (cpus ? s.cpuUsagePercent / cpus : s.cpuUsagePercent));
  const rows: string[][] = [
    [
      'cpu',
      cpu.length ? cell(cpu, `${cpu[cpu.length - 1].toFixed(0)}%`, width) : NO_DATA,
      levelCell(
        samples.map((s) => s.memoryWorkingSetBytes),
        (m.resources?.memoryGb ?? 0) * GIB,
        width,
      ),
    ],
  ];
  const last = samples[samples.length - 1];
  const indices = (last?.gpus ?? []).map((g) => g.index).sort((a, b) => a - b);
  if (indices.length) rows.push(['', '', '']);
  for (const index of indices) {
    const series = samples.flatMap((s) => s.gpus.filter((g) => g.index === index));
    const util = series.map((g) => g.utilizationPercent);
    rows.push([
      `gpu=${index}`,
      cell(util, `${util[util.length - 1]}%`, width),
      levelCell(
        series.map((g) => g.memoryUsedBytes),
        series[series.length - 1].memoryTotalBytes,
        width,
      ),
    ]);
  }
  if (samples.length) {
    const a = axis(samples, width, nowMs);
    if (a) rows.push(['', '', ''], ['', a, a]);
  }
  let out = renderTable(['', 'UTILIZATION', 'MEMORY'], rows);
  const p = m.utilizationPolicy;
  if (p) {
    const gpus = indices.length ? '' : ' (this run has no GPU to watch: the policy never ends it)';
    out += `\nutilization_policy: the run ends when a GPU stays below ${p.minGpuUtilization}% for ${formatDuration(p.timeWindowSeconds)}${gpus}\n`;
  }
  return out;
}
