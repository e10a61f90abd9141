// `ssh -tt` on a real pseudo-terminal (node-pty), so the client sends the terminal's size and a
// window-change when the test resizes it. expect() waits for text in the output.
import * as nodePty from 'node-pty';

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r/g;

export class SshTerminal {
  private raw = '';
  private readonly proc: nodePty.IPty;
  readonly exited: Promise<{ exitCode: number; signal?: number }>;
  private waiters: (() => void)[] = [];

  constructor(config: string, args: string[], size = { cols: 100, rows: 30 }) {
    this.proc = nodePty.spawn('ssh', ['-F', config, '-tt', ...args], {
      name: 'xterm',
      cols: size.cols,
      rows: size.rows,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', TERM: 'xterm', HOME: process.env.HOME ?? '/root' },
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

  get text(): string {
    return this.raw.replace(ANSI, '');
  }

  /** Waits until the output after offset `from` matches. */
  async expect(pattern: RegExp, { timeoutMs = 60_000, from = 0 } = {}): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let done = false;
    void this.exited.then(() => (done = true));
    for (;;) {
      const m = pattern.exec(this.text.slice(from));
      if (m) return m[0];
      if (done) throw new Error(`ssh exited before printing ${pattern}; its output:\n${this.text}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${pattern}; the output so far:\n${this.text}`);
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
