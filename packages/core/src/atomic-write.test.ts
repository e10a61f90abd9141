import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileAtomic, writeJsonAtomic } from './atomic-write';

const tmp = mkdtempSync(join(tmpdir(), 'dstack-atomic-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('writeFileAtomic', () => {
  it('replaces the file whole and leaves no temp file beside it', () => {
    const f = join(tmp, 'state');
    writeFileSync(f, 'old contents that are longer');
    writeFileAtomic(f, 'new');
    expect(readFileSync(f, 'utf8')).toBe('new');
    expect(readdirSync(tmp).filter((n) => n.startsWith('state'))).toEqual(['state']);
  });

  it('sets the mode exactly, whatever the umask', () => {
    const f = join(tmp, 'exe');
    const umask = process.umask(0o077);
    try {
      writeFileAtomic(f, Buffer.from([1, 2, 3]), { mode: 0o755, durable: false });
    } finally {
      process.umask(umask);
    }
    expect(statSync(f).mode & 0o777).toBe(0o755);
    writeFileAtomic(f, 'x');
    expect(statSync(f).mode & 0o777).toBe(0o600);
  });

  it('creates the folder only when asked', () => {
    const f = join(tmp, 'a', 'b', 'config');
    expect(() => writeFileAtomic(f, 'x')).toThrow(/ENOENT/);
    writeFileAtomic(f, 'x', { mkdir: true });
    expect(readFileSync(f, 'utf8')).toBe('x');
    expect(statSync(join(tmp, 'a')).mode & 0o777).toBe(0o700);
  });

  it('on a failed write keeps the old file and removes its temp file', () => {
    const dir = join(tmp, 'fail');
    writeFileAtomic(join(dir, 'f'), 'kept', { mkdir: true });
    // A folder where the temp file would go makes the open fail.
    writeFileAtomic(join(dir, `f.${process.pid}.tmp`, 'blocker'), '', { mkdir: true });
    expect(() => writeFileAtomic(join(dir, 'f'), 'lost')).toThrow();
    expect(readFileSync(join(dir, 'f'), 'utf8')).toBe('kept');
  });
});

describe('writeJsonAtomic', () => {
  it('writes JSON that reads back as the value, with a final line break', () => {
    const f = join(tmp, 'job.json');
    writeJsonAtomic(f, { a: [1, 'two'], b: null });
    const text = readFileSync(f, 'utf8');
    expect(text.endsWith('}\n')).toBe(true);
    expect(JSON.parse(text)).toEqual({ a: [1, 'two'], b: null });
  });
});
