import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { logger, setLogFile } from './logger';

const dir = mkdtempSync(join(tmpdir(), 'dstack-agent-log-'));
afterAll(() => {
  setLogFile(undefined);
  rmSync(dir, { recursive: true, force: true });
});

describe('agent.log', () => {
  it('rotates at --log-file-max and keeps --log-file-keep files', () => {
    const file = join(dir, 'agent.log');
    setLogFile(file, { maxBytes: 200, keep: 1 });
    for (let i = 0; i < 20; i++) logger.info(`job j${i} starting`);
    const [older, newest] = [`${file}.1`, file].map((p) => readFileSync(p, 'utf8'));
    expect(() => readFileSync(`${file}.2`)).toThrow();
    expect(older.length).toBeLessThanOrEqual(200);
    expect(newest).toMatch(/ info job j19 starting\n$/);
    const jobs = (older + newest).match(/j\d+/g)!;
    expect(jobs.at(-1)).toBe('j19');
    expect(jobs.map((j) => Number(j.slice(1)))).toEqual(Array.from({ length: jobs.length }, (_, i) => 20 - jobs.length + i));
  });
});
