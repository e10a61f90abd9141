// `ssh -tt` on a real pseudo-terminal (node-pty), so the client sends the terminal's size and a
// window-change when the test resizes it. expect() waits for text in the output.
import * as nodePty from 'node-pty';
import { waitFor } from '../harness/util';

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r/g;

export class SshTerminal {
  private raw = '';
  private readonly proc: nodePty.IPty;
  readonly exited: Promise<{ exitCode: number; signal?: number }>;

  constructor(config: string, args: string[], size = { cols: 100, rows: 30 }) {
    this.proc = nodePty.spawn('ssh', ['-F', config, '-tt', ...args], {
      name: 'xterm',
      cols: size.cols,
      rows: size.rows,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', TERM: 'xterm', HOME: process.env.HOME ?? '/root' },
    });
    this.proc.onData((d) => (this.raw += d));
    this.exited = new Promise((resolve) => this.proc.onExit(resolve));
  }

  get text(): string {
    return this.raw.replace(ANSI, '');
  }

  /** Waits until the output after offset `from` matches. */
  async expect(pattern: RegExp, { timeoutMs = 60_000, from = 0 } = {}): Promise<string> {
    let done = false;
    void this.exited.then(() => (done = true));
    return waitFor(
      `${pattern} in the terminal`,
      () => {
        const m = pattern.exec(this.text.slice(from));
        if (!m && done) throw new Error(`ssh exited; its output:\n${this.text}`);
        return m?.[0];
      },
      { timeoutMs, intervalMs: 50 },
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n--- output so far:\n${this.text}`);
    });
  }

  write(s: string): void {
    this.proc.write(s);
  }

  resize(cols: number, rows: number): void {
    this.proc.resize(cols, rows);
  }

  kill(): void {
    try {
      this.proc.kill('SIGKILL');
    } catch {
      // gone already
    }
  }
}
