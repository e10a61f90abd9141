import { appendFileSync, readdirSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LogStream } from '@dstack/core/gen/agent';
import { JobLog, LineSplitter } from './job-log';

const dir = () => mkdtempSync(join(tmpdir(), 'dstack-joblog-'));
const text = (lines: { data: Buffer }[]) => lines.map((l) => l.data.toString()).join('');

describe('JobLog', () => {
  it('reads lines back with offsets that count data bytes', () => {
    const log = new JobLog(dir());
    const a = log.append(LogStream.LOG_STREAM_STDOUT, Buffer.from('hello\n'), 1000);
    const b = log.append(LogStream.LOG_STREAM_STDERR, Buffer.from('oops\n'), 2000);
    expect([a.offset, b.offset]).toEqual([0, 6]);
    const r = log.read(0);
    expect(text(r.lines)).toBe('hello\noops\n');
    expect(r.lines.map((l) => [l.offset, l.timeMs, l.stream])).toEqual([
      [0, 1000, LogStream.LOG_STREAM_STDOUT],
      [6, 2000, LogStream.LOG_STREAM_STDERR],
    ]);
    expect(r.nextOffset).toBe(11);
    expect(log.read(r.nextOffset).lines).toEqual([]);
  });

  it('reads from inside a line and skips lines older than since', () => {
    const log = new JobLog(dir());
    log.append(LogStream.LOG_STREAM_STDOUT, Buffer.from('first\n'), 1000);
    log.append(LogStream.LOG_STREAM_STDOUT, Buffer.from('second\n'), 3000);
    expect(text(log.read(2).lines)).toBe('rst\nsecond\n');
    expect(text(log.read(0, { sinceMs: 2000 }).lines)).toBe('second\n');
  });

  it('pages by limit and resumes at next_offset', () => {
    const log = new JobLog(dir());
    for (let i = 0; i < 10; i++) log.append(LogStream.LOG_STREAM_STDOUT, Buffer.from(`line ${i}\n`));
    const page1 = log.read(0, { limitBytes: 20 });
    expect(page1.lines).toHaveLength(2);
    const page2 = log.read(page1.nextOffset, { limitBytes: 1000 });
    expect(text(page1.lines) + text(page2.lines)).toBe(Array.from({ length: 10 }, (_, i) => `line ${i}\n`).join(''));
  });

  it('drops the oldest lines past the cap and keeps offsets growing', () => {
    const d = dir();
    const log = new JobLog(d, 16 * 1024);
    const line = Buffer.alloc(1000, 'x');
    for (let i = 0; i < 100; i++) log.append(LogStream.LOG_STREAM_STDOUT, line);
    expect(log.endOffset).toBe(100_000);
    expect(log.firstOffset).toBeGreaterThan(70_000);
    const r = log.read(0);
    expect(r.firstOffset).toBe(log.firstOffset);
    expect(r.lines[0].offset).toBe(log.firstOffset);
    const stored = readdirSync(d).length;
    expect(stored).toBeLessThanOrEqual(4);
  });

  it('survives a torn last record and continues at the right offset', () => {
    const d = dir();
    const log = new JobLog(d);
    log.append(LogStream.LOG_STREAM_AGENT, Buffer.from('kept\n'));
    log.close();
    const seg = join(d, readdirSync(d)[0]);
    appendFileSync(seg, Buffer.from([0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 50, 65])); // a header promising 50 bytes, 1 written
    const again = new JobLog(d);
    expect(again.endOffset).toBe(5);
    again.append(LogStream.LOG_STREAM_STDOUT, Buffer.from('next\n'));
    expect(text(again.read(0).lines)).toBe('kept\nnext\n');
  });
});

describe('LineSplitter', () => {
  it('emits whole lines and flushes a partial one', () => {
    const out: string[] = [];
    const s = new LineSplitter((l) => out.push(l.toString()), 10_000);
    s.write(Buffer.from('a\nb'));
    s.write(Buffer.from('c\nd'));
    expect(out).toEqual(['a\n', 'bc\n']);
    s.flush();
    expect(out).toEqual(['a\n', 'bc\n', 'd']);
  });
});
