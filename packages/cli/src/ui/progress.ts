// Feedback on long waits. On a terminal: one live line at the bottom (a spinner, or a progress bar
// per step: image pull, code upload, IDE server) that other output scrolls above. Elsewhere (a pipe,
// a CI log): plain lines, one when a step starts and one when it ends, never control characters.
import type { Writable } from 'node:stream';
import { formatBytes } from '@dstack/core/bytes';

type Out = Writable & { isTTY?: boolean; columns?: number };

/** A transient line at the bottom of a terminal; a no-op when the stream is not one. */
export class LiveLine {
  private text = '';
  constructor(readonly out: Out = process.stderr) {}

  get tty(): boolean {
    return Boolean(this.out.isTTY);
  }

  set(text: string): void {
    if (!this.tty) return;
    const cols = this.out.columns ?? 80;
    this.text = text.length >= cols ? text.slice(0, cols - 1) : text;
    this.out.write(`\r\x1b[K${this.text}`);
  }

  /** Writes `text` (whole lines) to `to` above the live line, then draws the live line again. */
  print(text: string, to: Writable = this.out): void {
    if (this.text) this.out.write('\r\x1b[K');
    to.write(text);
    if (this.text) this.out.write(this.text);
  }

  clear(): void {
    if (this.text) this.out.write('\r\x1b[K');
    this.text = '';
  }

  /** Keeps the live line on screen as an ordinary line. */
  settle(): void {
    if (this.text) this.out.write('\n');
    this.text = '';
  }
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export interface Spinner {
  text(t: string): void;
  stop(): void;
}

/**
 * A spinner with `text` on a terminal, shown only once the wait passes `delayMs`. Give it the live
 * line other output is printed around, so that output scrolls above it.
 */
export function spinner(text: string, opts: { out?: Out; line?: LiveLine; delayMs?: number } = {}): Spinner {
  const line = opts.line ?? new LiveLine(opts.out);
  let current = text;
  let frame = 0;
  let timer: NodeJS.Timeout | undefined;
  const draw = () => line.set(`${FRAMES[frame++ % FRAMES.length]} ${current}`);
  const start = setTimeout(() => {
    draw();
    timer = setInterval(draw, 100);
    timer.unref();
  }, opts.delayMs ?? 0);
  start.unref();
  return {
    text(t: string) {
      current = t;
    },
    stop() {
      clearTimeout(start);
      if (timer) clearInterval(timer);
      line.clear();
    },
  };
}

export interface ProgressEvent {
  kind: string;
  current: number;
  total: number;
  message: string;
}

const LABELS: Record<string, string> = {
  pull: 'Pulling image',
  upload: 'Uploading code',
  ide: 'Installing IDE server',
  sync: 'Syncing files',
};

/** `[########------------]  40%` */
export function bar(current: number, total: number, width = 24): string {
  const frac = total > 0 ? Math.min(1, current / total) : 0;
  const full = Math.floor(frac * width);
  return `[${'#'.repeat(full)}${'-'.repeat(width - full)}] ${String(Math.floor(frac * 100)).padStart(3)}%`;
}

/** One progress line as the terminal shows it. */
export function progressText(p: ProgressEvent): string {
  const label = LABELS[p.kind] ?? p.kind;
  const amount = sizes(p);
  const msg = p.message ? `  ${p.message}` : '';
  if (p.total > 0) return `${label.padEnd(22)} ${bar(p.current, p.total)}  ${amount}${msg}`.trimEnd();
  return [`${label}...`, amount, p.message].filter(Boolean).join(' ');
}

function sizes(p: ProgressEvent): string {
  if (p.total > 0) return `${formatBytes(p.current)} / ${formatBytes(p.total)}`;
  return p.current > 0 ? formatBytes(p.current) : '';
}

/**
 * Progress events of several steps, one after another. A step ends when it reaches its total or
 * another step starts. Plain output prints a step's start and end only.
 */
export class ProgressView {
  private current: ProgressEvent | undefined;

  /** A step is on screen (the live line is a bar). */
  get active(): boolean {
    return this.current !== undefined;
  }
  private finished = new Set<string>();
  constructor(readonly line: LiveLine) {}

  update(p: ProgressEvent): void {
    if (this.current && this.current.kind !== p.kind) this.finish();
    if (this.finished.has(p.kind) && !(p.total > 0 && p.current < p.total)) return;
    this.finished.delete(p.kind);
    const starting = !this.current;
    this.current = p;
    if (this.line.tty) this.line.set(progressText(p));
    else if (starting) this.line.out.write(`${LABELS[p.kind] ?? p.kind}...${p.message ? ` ${p.message}` : ''}\n`);
    if (p.total > 0 && p.current >= p.total) this.finish();
  }

  /** Ends the active step: its last state stays on screen (terminal) or a `done` line (plain). */
  finish(): void {
    const p = this.current;
    if (!p) return;
    this.current = undefined;
    this.finished.add(p.kind);
    const done = { ...p, current: p.total > 0 ? p.total : p.current };
    if (this.line.tty) {
      this.line.set(progressText(done));
      this.line.settle();
    } else {
      const amount = sizes({ ...done, total: 0 });
      this.line.out.write(`${LABELS[p.kind] ?? p.kind}: done${amount ? ` (${amount})` : ''}\n`);
    }
  }
}
