import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../errors';
import { canPrompt, confirm } from './prompt';

function io(tty: boolean) {
  const input = Object.assign(new PassThrough(), { isTTY: tty });
  const output = new PassThrough();
  let written = '';
  output.on('data', (d: Buffer) => (written += d.toString()));
  return { io: { input, output }, input, written: () => written };
}

describe('confirm', () => {
  it('answers yes without asking with -y', async () => {
    const t = io(false);
    expect(await confirm('Submit the run x?', { yes: true, io: t.io })).toBe(true);
    expect(t.written()).toBe('');
  });

  it('is a usage error without a terminal, saying to pass -y', async () => {
    const t = io(false);
    expect(canPrompt(t.io)).toBe(false);
    const err = await confirm('Submit the run x?', { io: t.io }).catch((e) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toBe('cannot ask "Submit the run x?" without a terminal: pass -y to answer yes');
  });

  it('asks with [y/n] and reads y, yes, n, no in any case', async () => {
    for (const [answer, expected] of [
      ['y', true],
      ['YES', true],
      [' n ', false],
      ['No', false],
    ] as const) {
      const t = io(true);
      const p = confirm('Submit the run vscode?', { io: t.io });
      t.input.write(`${answer}\n`);
      expect(await p).toBe(expected);
      expect(t.written()).toBe('Submit the run vscode? [y/n]: ');
    }
  });

  it('asks again after anything else', async () => {
    const t = io(true);
    const p = confirm('Update the run?', { io: t.io });
    t.input.write('maybe\ny\n');
    expect(await p).toBe(true);
    expect(t.written()).toBe('Update the run? [y/n]: Update the run? [y/n]: ');
  });

  it('takes the end of input as no', async () => {
    const t = io(true);
    const p = confirm('Stop the run x?', { io: t.io });
    t.input.end();
    expect(await p).toBe(false);
  });
});
