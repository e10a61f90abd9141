import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from './logger';

const dir = mkdtempSync(join(tmpdir(), 'dstack-daemon-log-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('daemon.log', () => {
  it('rotates at its cap, keeps the set number, and redacts in every file', () => {
    const file = join(dir, 'daemon.log');
    const log = createLogger(file, { rotation: { maxBytes: 300, keep: 2 } });
    log.redact('hunter2');
    for (let i = 0; i < 40; i++) log.info(`event ${i}`, { token: 'hunter2' });
    log.close();
    const texts = [`${file}.2`, `${file}.1`, file].map((p) => readFileSync(p, 'utf8'));
    expect(() => statSync(`${file}.3`)).toThrow();
    for (const [i, text] of texts.entries()) {
      expect(statSync([`${file}.2`, `${file}.1`, file][i]).size).toBeLessThanOrEqual(300);
      expect(text).toMatch(/^(\S+ INFO {2}event \d+ token=\*\*\*\n)+$/);
    }
    // The newest events, in order, none missing.
    const events = texts
      .join('')
      .match(/event \d+/g)!
      .map((e) => Number(e.slice(6)));
    expect(events).toEqual(Array.from({ length: events.length }, (_, i) => 40 - events.length + i));
  });
});
