// Durations as dstack reads them: an integer number of seconds, or `<n><unit>` with unit s, m, h, d
// or w (`90m`, `2h`, `1d`, spaces allowed before the unit). Some fields also take `off` (or YAML
// `false`) for "unlimited"; `true` means "the default". No I/O, no dependencies: the CLI's cold start
// and the daemon's controllers both use this.

export class DurationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DurationError';
  }
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };
const DURATION_RE = /^(\d+) *([smhdw])$/;

/**
 * Seconds of `v`: a non-negative number (a fraction is cut off, as dstack does: 1.9 → 1), a string of
 * digits, or `<n><s|m|h|d|w>`. Throws DurationError.
 */
export function parseDuration(v: unknown): number {
  if (typeof v === 'number') {
    if (Number.isFinite(v) && v >= 0) return Math.trunc(v);
    throw new DurationError(`invalid duration ${v}: use seconds ≥ 0 or <n><s|m|h|d|w>, e.g. 90m or 2h`);
  }
  if (typeof v === 'string') {
    const s = v.trim();
    if (/^\d+$/.test(s)) return Number(s);
    const m = DURATION_RE.exec(s);
    if (m) return Number(m[1]) * UNIT_SECONDS[m[2]];
    throw new DurationError(`invalid duration "${v}": use whole seconds or <n><s|m|h|d|w>, e.g. 90m or 2h`);
  }
  throw new DurationError(`invalid duration: expected seconds or a string like 2h, got ${describe(v)}`);
}

/**
 * A duration that may be switched off (`max_duration`, `inactivity_duration`): `off` or `false` →
 * 'off'; `true` → null (the default); otherwise seconds.
 */
export function parseOffDuration(v: unknown): number | 'off' | null {
  if (v === 'off' || v === false) return 'off';
  if (v === true || v === null || v === undefined) return null;
  return parseDuration(v);
}

/**
 * `idle_duration`: `off`/`false` → -1 (never terminate the idle instance), `true` → null (default). A
 * negative number (`-1`, `"-1"`) also means off: older dstack clients wrote off that way.
 */
export function parseIdleDuration(v: unknown): number | null {
  if ((typeof v === 'number' && v < 0) || (typeof v === 'string' && /^\s*-\d+\s*$/.test(v))) return -1;
  const d = parseOffDuration(v);
  return d === 'off' ? -1 : d;
}

/**
 * The shortest dstack form of `seconds`: `2h`, `90m`, `1d`, `45s`; `1h30m` is printed as `90m` (a
 * single unit, so the result parses back). 0 is `0s`.
 */
export function formatDuration(seconds: number): string {
  for (const unit of ['w', 'd', 'h', 'm'] as const) {
    const n = UNIT_SECONDS[unit];
    if (seconds >= n && seconds % n === 0) return `${seconds / n}${unit}`;
  }
  return `${seconds}s`;
}

/** For humans, largest two units: `2m 34s`, `1h 5m`, `3d 2h`, `45s`. */
export function formatDurationHuman(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const parts: [number, string][] = [
    [Math.floor(s / 86_400), 'd'],
    [Math.floor((s % 86_400) / 3600), 'h'],
    [Math.floor((s % 3600) / 60), 'm'],
    [s % 60, 's'],
  ];
  const first = parts.findIndex(([n]) => n > 0);
  if (first === -1) return '0s';
  return parts
    .slice(first, first + 2)
    .filter(([n]) => n > 0)
    .map(([n, u]) => `${n}${u}`)
    .join(' ');
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'a mapping' : typeof v;
}
