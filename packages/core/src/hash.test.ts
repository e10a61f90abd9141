import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sha256File } from './hash';

const tmp = mkdtempSync(join(tmpdir(), 'dstack-hash-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('sha256File', () => {
  it('agrees with sha256sum, for an empty file and one larger than a stream chunk', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
    for (const [name, data] of [
      ['empty', Buffer.alloc(0)],
      ['big', big],
    ] as const) {
      const f = join(tmp, name);
      writeFileSync(f, data);
      expect(await sha256File(f)).toBe(execFileSync('sha256sum', [f], { encoding: 'utf8' }).split(' ')[0]);
    }
  });

  it('follows a link to its file', async () => {
    writeFileSync(join(tmp, 'target'), 'hello');
    symlinkSync('target', join(tmp, 'link'));
    expect(await sha256File(join(tmp, 'link'))).toBe('2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824');
  });

  it('rejects for a missing file', async () => {
    await expect(sha256File(join(tmp, 'missing'))).rejects.toThrow(/ENOENT/);
  });
});
