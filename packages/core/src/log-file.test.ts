import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RotatingLogFile, rotateLogFile } from './log-file';

const dir = mkdtempSync(join(tmpdir(), 'dstack-log-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const line = (i: number) => `line ${String(i).padStart(4, '0')} ${'x'.repeat(20)}\n`;
const read = (p: string) => (existsSync(p) ? readFileSync(p, 'utf8') : '');
/** The files oldest first, as one text. */
const all = (p: string, keep: number) => [...Array.from({ length: keep }, (_, i) => read(`${p}.${keep - i}`)), read(p)].join('');

describe('RotatingLogFile', () => {
  it('rotates before a write would pass the cap, keeps FILE.1 to FILE.keep, and splits no line', () => {
    const path = join(dir, 'small.log');
    const log = new RotatingLogFile(path, { maxBytes: 100, keep: 3 });
    for (let i = 0; i < 50; i++) log.write(line(i));
    log.close();
    for (const p of [path, `${path}.1`, `${path}.2`, `${path}.3`]) {
      expect(statSync(p).size).toBeLessThanOrEqual(100);
      expect(read(p)).toMatch(/^(line \d{4} x{20}\n)+$/);
      expect(statSync(p).mode & 0o777).toBe(0o600);
    }
    expect(existsSync(`${path}.4`)).toBe(false);
    // What is kept is the newest lines, in order, none missing.
    const kept = all(path, 3);
    const first = Number(/^line (\d+)/.exec(kept)![1]);
    expect(kept).toBe(Array.from({ length: 50 - first }, (_, i) => line(first + i)).join(''));
    expect(first).toBeGreaterThan(0);
  });

  it('appends to what is there, and puts a line longer than the cap in a file of its own', () => {
    const path = join(dir, 'long.log');
    const before = new RotatingLogFile(path, { maxBytes: 100, keep: 5 });
    before.write(line(0));
    before.close();
    const log = new RotatingLogFile(path, { maxBytes: 100, keep: 5 });
    const long = `${'y'.repeat(250)}\n`;
    log.write(line(1));
    log.write(long);
    log.write(line(2));
    log.close();
    expect([read(`${path}.2`), read(`${path}.1`), read(path)]).toEqual([line(0) + line(1), long, line(2)]);
  });

  it('loses no line when another writer on the same file rotated it first, or holds the old file open', () => {
    const path = join(dir, 'shared.log');
    const a = new RotatingLogFile(path, { maxBytes: 200, keep: 50 });
    const b = new RotatingLogFile(path, { maxBytes: 200, keep: 50 });
    // A descriptor opened before any rotation (the daemon's own stderr): it writes on into the old file.
    const stray = openSync(path, 'a');
    const written: string[] = [];
    const write = (w: RotatingLogFile, i: number) => {
      w.write(line(i));
      written.push(line(i));
    };
    // b fills the file nearly to the cap, a's first line rotates it, then b's next line finds a new file.
    for (let i = 0; i < 6; i++) write(b, i);
    write(a, 6);
    write(b, 7);
    for (let i = 8; i < 60; i++) write(i % 2 ? b : a, i);
    writeSync(stray, 'stray\n');
    closeSync(stray);
    a.close();
    b.close();
    const lines = all(path, 50).split(/(?<=\n)/);
    expect(lines.filter((l) => l !== 'stray\n').sort()).toEqual(written.sort());
    expect(lines).toContain('stray\n');
    // The second writer to reach the cap reopened the file the first one had started, rather than
    // rotating it again: no rotated file is a near-empty one.
    for (let i = 1; existsSync(`${path}.${i}`); i++) expect(statSync(`${path}.${i}`).size).toBeGreaterThan(100);
  });

  it('with keep 0 starts the file afresh', () => {
    const path = join(dir, 'none.log');
    const log = new RotatingLogFile(path, { maxBytes: 60, keep: 0 });
    for (let i = 0; i < 5; i++) log.write(line(i));
    log.close();
    expect(read(path)).toBe(line(4));
    expect(existsSync(`${path}.1`)).toBe(false);
  });
});

describe('rotateLogFile', () => {
  it('shifts FILE.1.. up by one, drops the oldest, and skips the ones that are not there', () => {
    const path = join(dir, 'shift.log');
    for (const [p, text] of [
      [path, 'now'],
      [`${path}.1`, 'one'],
      [`${path}.3`, 'three'],
    ])
      writeFileSync(p, text);
    rotateLogFile(path, 3);
    expect([read(path), read(`${path}.1`), read(`${path}.2`), read(`${path}.3`), read(`${path}.4`)]).toEqual(['', 'now', 'one', '', '']);
    rotateLogFile(join(dir, 'absent.log'), 3);
  });
});
