import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDb } from '../state/db';
import { testRunRow } from '../state/test-run-row';
import { RunsStore, type RunRow } from '../state/runs-store';
import { canMove } from './state';
import { SyncStore } from './store';

const dir = mkdtempSync(join(tmpdir(), 'dstack-sync-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(id: string): RunRow {
  return testRunRow({ id, name: id, repoDir: '/repo' });
}

describe('SyncStore', () => {
  it('keeps which runs sync, their counters and conflicts, across a stop and a start, and forgets them with the run', () => {
    const db = openDb(join(dir, 'state.db'));
    const runs = new RunsStore(db);
    const store = new SyncStore(db);
    runs.insert(run('r1'));
    runs.insert(run('r2'));
    store.enable('r1', '/repo', 100);
    store.enable('r2', '/other', 100);
    store.recordBatch('r1', { files: 3, roundTrips: 3, conflicts: [] }, 200);
    store.recordBatch('r1', { files: 1, roundTrips: 2, conflicts: [{ path: 'a.txt', keptAs: 'a.txt.remote-conflict' }] }, 300);
    expect(store.get('r1')).toMatchObject({
      enabled: true,
      repoDir: '/repo',
      lastSyncedMs: 300,
      filesSynced: 4,
      batches: 2,
      roundTrips: 5,
      lastBatchFiles: 1,
    });
    expect(store.conflicts('r1')).toEqual([{ path: 'a.txt', keptAs: 'a.txt.remote-conflict', timeMs: 300 }]);
    expect(
      store
        .enabled()
        .map((s) => s.runId)
        .sort(),
    ).toEqual(['r1', 'r2']);

    expect(store.disable('r1', 'stopped by the user', 400)).toMatchObject({
      enabled: false,
      stopReason: 'stopped by the user',
      stoppedMs: 400,
    });
    expect(store.enabled().map((s) => s.runId)).toEqual(['r2']);
    expect(store.enable('r1', '/repo', 500)).toMatchObject({ enabled: true, stopReason: '', filesSynced: 4, batches: 2 });
    expect(store.conflicts('r1')).toHaveLength(1);

    runs.delete('r1');
    expect(store.get('r1')).toBeUndefined();
    expect(store.conflicts('r1')).toEqual([]);
    db.close();
  });

  it('shows the newest conflicts, oldest first', () => {
    const db = openDb(join(dir, 'many.db'));
    new RunsStore(db).insert(run('r'));
    const store = new SyncStore(db);
    store.enable('r', '/repo');
    store.recordBatch('r', {
      files: 5,
      roundTrips: 3,
      conflicts: Array.from({ length: 5 }, (_, i) => ({ path: `f${i}`, keptAs: `f${i}.remote-conflict` })),
    });
    expect(store.conflicts('r', 2).map((c) => c.path)).toEqual(['f3', 'f4']);
    db.close();
  });
});

describe('the sync state table', () => {
  it('allows the moves a sync makes and refuses the rest', () => {
    const ok: [string, string][] = [
      ['off', 'starting'],
      ['starting', 'syncing'],
      ['syncing', 'watching'],
      ['watching', 'syncing'],
      ['syncing', 'error'],
      ['error', 'syncing'],
      ['watching', 'starting'],
      ['error', 'off'],
      ['watching', 'off'],
    ];
    for (const [a, b] of ok) expect(canMove(a as never, b as never), `${a} → ${b}`).toBe(true);
    for (const [a, b] of [
      ['off', 'watching'],
      ['off', 'syncing'],
      ['starting', 'watching'],
      ['off', 'error'],
    ]) {
      expect(canMove(a as never, b as never), `${a} → ${b}`).toBe(false);
    }
  });
});
