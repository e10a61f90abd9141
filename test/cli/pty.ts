// The CLI on a real pseudo-terminal (node-pty), for what only shows on one: prompts, progress bars,
// Ctrl+C. expect() waits for text in the output (colour and cursor codes stripped).
import * as nodePty from 'node-pty';
import { CLI, type Sandbox } from './helpers';

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]|\r/g;

export class Terminal {
  private raw = '';
  private readonly proc: nodePty.IPty;
  readonly exited: Promise<{ exitCode: number; signal?: number }>;
  private waiters: (() => void)[] = [];

  constructor(sb: Sandbox, args: string[], opts: { cwd?: string } = {}) {
    this.proc = nodePty.spawn(process.execPath, [CLI, ...args], {
      name: 'xterm',
      cols: 120,
      rows: 40,
      cwd: opts.cwd ?? sb.dir,
      env: sb.env as Record<string, string>,
    });
    this.proc.onData((d) => {
      this.raw += d;
      for (const w of this.waiters.splice(0)) w();
    });
    this.exited = new Promise((resolve) =>
      this.proc.onExit((e) => {
        resolve(e);
        for (const w of this.waiters.splice(0)) w();
      }),
    );
  }

  /** Everything printed so far, without terminal control codes. */
  get text(): string {
    return this.raw.replace(ANSI, '');
  }

  /** Waits until the output (from `from` on) matches; returns the match. */
  async expect(pattern: RegExp | string, { timeoutMs = 180_000, from = 0 } = {}): Promise<string> {
    const re = typeof pattern === 'string' ? new RegExp(pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : pattern;
    const deadline = Date.now() + timeoutMs;
    let done = false;
    void this.exited.then(() => (done = true));
    for (;;) {
      const m = re.exec(this.text.slice(from));
      if (m) return m[0];
      if (done) throw new Error(`the CLI exited before printing ${re}; its output:\n${this.text}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${re}; the output so far:\n${this.text}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 1000));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  write(s: string): void {
    this.proc.write(s);
  }

  /** Ctrl+C, as the terminal sends it. */
  interrupt(): void {
    this.proc.write('\x03');
  }

  kill(): void {
    try {
      this.proc.kill('SIGKILL');
    } catch {
      // gone already
    }
  }
}
