// `[y/n]` questions. They are asked on stderr (stdout may be piped into a file) and answered on a
// terminal; without one, a question is an error that says how to go on (-y), never a silent yes.
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { InterruptedError, UsageError } from '../errors';

export interface PromptIO {
  input: Readable & { isTTY?: boolean };
  output: Writable;
}

const defaultIO = (): PromptIO => ({ input: process.stdin, output: process.stderr });

/** True when questions can be asked at all. */
export function canPrompt(io: PromptIO = defaultIO()): boolean {
  return Boolean(io.input.isTTY);
}

/**
 * Asks `question [y/n]: ` until the answer is y/yes or n/no. `yes` answers without asking.
 * Ctrl+C while asking throws InterruptedError; end of input counts as no.
 */
export async function confirm(question: string, opts: { yes?: boolean; io?: PromptIO } = {}): Promise<boolean> {
  if (opts.yes) return true;
  const io = opts.io ?? defaultIO();
  if (!canPrompt(io)) {
    throw new UsageError(`cannot ask "${question}" without a terminal: pass -y to answer yes`);
  }
  const rl = createInterface({ input: io.input, output: io.output, terminal: false });
  // The iterator queues lines, so answers typed ahead are not lost.
  const lines = rl[Symbol.asyncIterator]();
  let onSigint: (() => void) | undefined;
  const sigint = new Promise<'interrupted'>((resolve) => {
    onSigint = () => resolve('interrupted');
    process.once('SIGINT', onSigint);
  });
  try {
    for (;;) {
      io.output.write(`${question} [y/n]: `);
      const next = await Promise.race([lines.next(), sigint]);
      if (next === 'interrupted') {
        io.output.write('\n');
        throw new InterruptedError();
      }
      if (next.done) {
        io.output.write('\n');
        return false;
      }
      const a = String(next.value).trim().toLowerCase();
      if (a === 'y' || a === 'yes') return true;
      if (a === 'n' || a === 'no') return false;
    }
  } finally {
    if (onSigint) process.off('SIGINT', onSigint);
    rl.close();
  }
}
