import { describe, expect, it } from 'vitest';
import { Demuxer } from './exec';

function frame(stream: number, text: string): Buffer {
  const body = Buffer.from(text);
  const head = Buffer.alloc(8);
  head[0] = stream;
  head.writeUInt32BE(body.length, 4);
  return Buffer.concat([head, body]);
}

describe('Demuxer', () => {
  it('splits stdout and stderr frames, across any chunking', () => {
    const all = Buffer.concat([frame(1, 'out one\n'), frame(2, 'err\n'), frame(1, ''), frame(1, 'out two\n')]);
    for (const size of [1, 3, 8, 9, all.length]) {
      const got: string[] = [];
      const d = new Demuxer((n, data) => got.push(`${n}:${data}`));
      for (let i = 0; i < all.length; i += size) d.push(all.subarray(i, i + size));
      expect(got.join('')).toBe('1:out one\n2:err\n1:out two\n');
    }
  });
});
