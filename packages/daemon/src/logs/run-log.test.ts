import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RunLog } from './run-log';

const tmp = mkdtempSync(join(tmpdir(), 'dstack-runlog-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const b = (s: string) => Buffer.from(s);

describe('run log', () => {
  it('keeps lines with running offsets across reopen, and drops agent lines it already has', () => {
    const dir = join(tmp, 'r1');
    const log = RunLog.open(dir);
    expect(log.append({ timeMs: 1, stream: 'daemon', data: b('provisioning\n') })?.offset).toBe(0);
    expect(log.append({ timeMs: 2, stream: 'stdout', data: b('hello\n'), jobId: 'j', agentOffset: 0 })?.offset).toBe(13);
    expect(log.append({ timeMs: 3, stream: 'stdout', data: b('world\n'), jobId: 'j', agentOffset: 6 })?.offset).toBe(19);
    expect(log.append({ timeMs: 3, stream: 'stdout', data: b('world\n'), jobId: 'j', agentOffset: 6 })).toBeUndefined();
    const again = RunLog.open(dir);
    expect(again.endOffset).toBe(25);
    expect(again.agentOffset('j')).toBe(12);
    expect(again.append({ timeMs: 2, stream: 'stdout', data: b('hello\n'), jobId: 'j', agentOffset: 0 })).toBeUndefined();
    expect(
      again
        .read()
        .map((e) => e.data.toString())
        .join(''),
    ).toBe('provisioning\nhello\nworld\n');
    expect(again.read({ fromOffset: 19 }).map((e) => e.data.toString())).toEqual(['world\n']);
    expect(again.read({ sinceMs: 2 }).map((e) => e.data.toString())).toEqual(['hello\n', 'world\n']);
  });

  it('stays under its cap, dropping the oldest lines but keeping offsets', () => {
    const log = RunLog.open(join(tmp, 'r2'), 4096);
    for (let i = 0; i < 200; i++) log.append({ timeMs: i, stream: 'stdout', data: b(`line ${i}\n`) });
    const lines = log.read();
    expect(lines.length).toBeLessThan(200);
    expect(lines[lines.length - 1].data.toString()).toBe('line 199\n');
    expect(lines[lines.length - 1].offset + 9).toBe(log.endOffset);
  });

  it('tells listeners about each new line', () => {
    const log = RunLog.open(join(tmp, 'r3'));
    const seen: string[] = [];
    log.on('entry', (e) => seen.push(e.data.toString()));
    log.append({ timeMs: 1, stream: 'agent', data: b('pulling\n') });
    expect(seen).toEqual(['pulling\n']);
  });
});
