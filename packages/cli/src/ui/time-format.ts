// Times as dstack prints them: `8 mins ago` for when a run was submitted, `2m 34s` for how long it
// has been inactive; and `--since` values (`10m`, `2h`, an ISO date, epoch seconds) parsed.

/** dstack's pretty_date: `now`, `42 sec ago`, `1 min ago`, `8 mins ago`, `3 hours ago`, `yesterday`... */
export function prettyDate(timeMs: number, nowMs = Date.now()): string {
  if (!timeMs) return '';
  const diffMs = nowMs - timeMs;
  if (diffMs < 0) return '';
  const days = Math.floor(diffMs / 86_400_000);
  const seconds = Math.floor((diffMs % 86_400_000) / 1000);
  if (days === 0) {
    if (seconds < 10) return 'now';
    if (seconds < 60) return `${seconds} sec ago`;
    if (seconds < 120) return '1 min ago';
    if (seconds < 3600) return `${roundHalfEven(seconds / 60)} mins ago`;
    if (seconds < 7200) return '1 hour ago';
    return `${roundHalfEven(seconds / 3600)} hours ago`;
  }
  if (days === 1) return 'yesterday';
  if (days < 7) return `${days} days ago`;
  if (days < 31) return plural(roundHalfEven(days / 7), 'week');
  if (days < 365) return plural(roundHalfEven(days / 30), 'month');
  return plural(roundHalfEven(days / 365), 'year');
}

function plural(n: number, unit: string): string {
  return `${n} ${unit}${n === 1 ? '' : 's'} ago`;
}

// Python's round(): halves go to the even neighbour, so 2.5 mins shows as 2 like dstack's.
function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

const UNITS: [string, number][] = [
  ['w', 7 * 86_400],
  ['d', 86_400],
  ['h', 3_600],
  ['m', 60],
  ['s', 1],
];

/** `154` → `2m 34s`, `4545` → `1h 15m 45s`, `0` → `0s`. */
export function formatDurationMultiunit(totalSeconds: number): string {
  let rest = Math.max(0, Math.floor(totalSeconds));
  const parts: string[] = [];
  for (const [unit, size] of UNITS) {
    const n = Math.floor(rest / size);
    if (n) {
      parts.push(`${n}${unit}`);
      rest -= n * size;
    }
  }
  return parts.join(' ') || '0s';
}

/**
 * A `--since` value as epoch milliseconds: a duration back from now (`30s`, `10m`, `2h`, `1d`,
 * `1w`), an ISO 8601 date-time, or epoch seconds. Throws with what is accepted.
 */
export function parseSince(value: string, nowMs = Date.now()): number {
  const v = value.trim();
  const rel = /^(\d+)\s*([smhdw])$/.exec(v);
  if (rel) {
    const size = UNITS.find(([u]) => u === rel[2])![1];
    return nowMs - Number(rel[1]) * size * 1000;
  }
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  if (/^\d{4}-\d{2}-\d{2}/.test(v)) {
    const t = Date.parse(v);
    if (!Number.isNaN(t)) return t;
  }
  throw new Error(
    `'${value}' is not a time: use a duration back from now (30s, 10m, 2h, 1d, 1w), an ISO date-time (2025-01-31T12:00:00Z) or epoch seconds`,
  );
}
