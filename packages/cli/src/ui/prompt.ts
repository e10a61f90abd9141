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

/**
 * A secret (an API key): from a terminal without echo, else the first line of stdin (a pipe, a
 * file), so scripts never put it on a command line. Ctrl+C while typing throws InterruptedError.
 */
export async function readSecret(question: string, io: PromptIO = defaultIO()): Promise<string> {
  const input = io.input as Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => void };
  if (!input.isTTY || !input.setRawMode) {
    let text = '';
    for await (const chunk of input) text += String(chunk);
    return text.split('\n')[0].trim();
  }
  io.output.write(`${question}: `);
  input.setRawMode(true);
  input.resume();
  try {
    return await new Promise<string>((resolve, reject) => {
      let typed = '';
      const onData = (chunk: Buffer | string) => {
        for (const ch of String(chunk)) {
          if (ch === '\u0003') {
            input.off('data', onData);
            reject(new InterruptedError());
            return;
          }
          if (ch === '\r' || ch === '\n' || ch === '\u0004') {
            input.off('data', onData);
            resolve(typed.trim());
            return;
          }
          if (ch === '\u007f' || ch === '\b') typed = typed.slice(0, -1);
          else typed += ch;
        }
      };
      input.on('data', onData);
    });
  } finally {
    input.setRawMode(false);
    input.pause();
    io.output.write('\n');
  }
}
