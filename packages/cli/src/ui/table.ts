// Plain-text tables laid out the way dstack's (rich, box=None) are: one leading space, columns
// padded to their widest cell and two spaces apart, trailing spaces trimmed. A cell may hold
// several lines; the row grows to the tallest cell.

export type Cell = string | number | undefined | null;

export interface TableOptions {
  /** Print the header row (default true). */
  header?: boolean;
}

export function renderTable(headers: string[], rows: Cell[][], opts: TableOptions = {}): string {
  const showHeader = opts.header ?? true;
  const cols = headers.length;
  const cellLines = (c: Cell): string[] => (c === undefined || c === null ? '' : String(c)).split('\n');
  const body = rows.map((r) => Array.from({ length: cols }, (_, i) => cellLines(r[i])));
  const widths = headers.map((h, i) => Math.max(showHeader ? width(h) : 0, ...body.map((r) => Math.max(...r[i].map(width)))));
  const lines: string[] = [];
  const emit = (cells: string[]) => lines.push(` ${cells.map((c, i) => pad(c, widths[i])).join('  ')}`.trimEnd());
  if (showHeader) emit(headers);
  for (const row of body) {
    const height = Math.max(...row.map((c) => c.length));
    for (let l = 0; l < height; l++) emit(row.map((c) => c[l] ?? ''));
  }
  return lines.map((l) => `${l}\n`).join('');
}

/**
 * Breaks a comma-separated list (`2xCPU, 8GB, 100.0GB (disk)`) into lines no wider than its widest
 * item, breaking only after commas: how `ps -v` shows resources.
 */
export function wrapList(text: string, maxWidth?: number): string {
  const parts = text.split(', ').map((p, i, all) => (i < all.length - 1 ? `${p},` : p));
  const limit = maxWidth ?? Math.max(...parts.map(width));
  const lines: string[] = [];
  for (const part of parts) {
    const last = lines.length - 1;
    if (last >= 0 && width(lines[last]) + 1 + width(part) <= limit) lines[last] += ` ${part}`;
    else lines.push(part);
  }
  return lines.join('\n');
}

// Display width: ANSI escapes take no columns.
function width(s: string): number {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\x1b\[[0-9;]*m/g, '').length;
}

function pad(s: string, w: number): string {
  return s + ' '.repeat(Math.max(0, w - width(s)));
}
