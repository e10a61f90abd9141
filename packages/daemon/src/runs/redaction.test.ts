// The redaction list after a daemon restart: a new logger (a new daemon) over the same state.db
// masks the secrets of runs applied before it, and only of runs still active.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../logger';
import { SecretBox } from '../secrets';
import { openDb } from '../state/db';
import { testRunRow } from '../state/test-run-row';
import { RunsStore, type RunRow } from '../state/runs-store';
import { redactStoredSecrets } from './redaction';

const dir = mkdtempSync(join(tmpdir(), 'dstack-redaction-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(id: string, secrets: Buffer | null): RunRow {
  return testRunRow({ id, name: `run-${id}`, secrets });
}

describe('redaction rebuilt from state.db', () => {
  it("masks every active run's secret env values and registry password in lines logged after a restart", () => {
    const box = SecretBox.open(join(dir, 'secret.key'));
    const store = new RunsStore(openDb(join(dir, 'state.db')));
    store.insert(run('a', box.sealJson({ env: { HF_TOKEN: 'hf_live_token_1', OTHER: 'other-value-2' }, registryPassword: 'reg-pass-3' })));
    store.insert(run('b', null));
    store.insert(run('c', box.sealJson({ env: { OLD: 'finished-value-4' } })));
    store.transition('c', 'failed', { terminationReason: 'executor_error' });

    const file = join(dir, 'daemon.log');
    const before = createLogger(file);
    before.info('before: hf_live_token_1');
    before.close();

    // The next daemon: a fresh logger, its list rebuilt before anything is logged.
    const log = createLogger(file);
    expect(redactStoredSecrets(store, box, log)).toBe(1);
    log.info('job env HF_TOKEN=hf_live_token_1 OTHER=other-value-2', { auth: 'me:reg-pass-3' });
    log.warn('a finished run: finished-value-4');
    log.close();

    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines[0]).toContain('before: hf_live_token_1'); // what an empty list lets through
    expect(lines[1]).toMatch(/job env HF_TOKEN=\*\*\* OTHER=\*\*\* auth=me:\*\*\*$/);
    // Finished runs are not loaded: the list stays as short as the active runs.
    expect(lines[2]).toContain('finished-value-4');
  });

  it('goes on past a run whose secrets cannot be opened (another key), saying so', () => {
    const store = new RunsStore(openDb(join(dir, 'other.db')));
    const other = SecretBox.open(join(dir, 'other.key'));
    store.insert(run('x', other.sealJson({ env: { T: 'sealed-elsewhere' } })));
    store.insert(run('y', SecretBox.open(join(dir, 'secret.key')).sealJson({ env: { T: 'opens-fine-5' } })));
    const file = join(dir, 'other.log');
    const log = createLogger(file);
    expect(redactStoredSecrets(store, SecretBox.open(join(dir, 'secret.key')), log)).toBe(1);
    log.info('opens-fine-5');
    log.close();
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('run run-x: its sealed secrets cannot be opened');
    expect(text).not.toContain('opens-fine-5');
  });
});
