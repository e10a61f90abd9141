// Stop and resume with state: which instances can keep a stopped run's container, what a stopped
// run holds in state.db (its name stays taken; it is neither unfinished nor gone), and its view.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { InstanceRecord } from '@dstack/backends/backend';
import { openDb } from '../state/db';
import { RunsStore } from '../state/runs-store';
import { testRunRow } from '../state/test-run-row';
import { keptJson, keptOf, keptView, whyNotKept } from './kept';

const dir = mkdtempSync(join(tmpdir(), 'dstack-kept-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const record = (backend: string, reusable: boolean): InstanceRecord =>
  ({ instanceId: 'i', name: `${backend}-host`, backend, region: '', price: 0, reusable }) as unknown as InstanceRecord;

describe('which instances keep a stopped container', () => {
  it('this machine and fleet hosts do; an instance made for the run (a cloud VM, a container cloud) does not', () => {
    expect(whyNotKept(record('local', true))).toBeUndefined();
    expect(whyNotKept(record('ssh', true))).toBeUndefined();
    expect(whyNotKept(record('lambda', false))).toBe('lambda instances end with the run (no stop and start): the run ends for good');
    expect(whyNotKept(record('runpod', false))).toMatch(/^runpod instances end with the run/);
    expect(whyNotKept(undefined)).toBe('it has no instance');
  });
});

describe('a stopped run in state.db', () => {
  it('keeps its name taken, is listed apart from unfinished runs, and goes back to submitted or to terminated', () => {
    const store = new RunsStore(openDb(join(dir, 'a.db')));
    store.insert(testRunRow({ id: 'r1', name: 'dev', jobId: 'r1-1', instanceKey: 'local/local' }));
    for (const to of ['provisioning', 'running', 'terminating'] as const) store.transition('r1', to);
    const changes = Array.from({ length: 250 }, (_, i) => ({ path: `f${i}`, change: 'modified' }));
    store.update('r1', { keptJson: keptJson({ containerId: 'c1', sizeBytes: 1234, instanceName: 'local', changes }) });
    const stopped = store.transition('r1', 'stopped', { finishedMs: 5 });
    expect(store.unfinished()).toEqual([]);
    expect(store.stopped().map((r) => r.id)).toEqual(['r1']);
    expect(store.stoppedByName('dev')?.id).toBe('r1');
    expect(store.activeByName('dev')).toBeUndefined();
    expect(store.byName('dev')?.status).toBe('stopped');
    // The name stays its own: a second run of that name cannot be inserted beside it.
    expect(() => store.insert(testRunRow({ id: 'r2', name: 'dev' }))).toThrow(/UNIQUE/);
    // What it keeps: the first 200 changes, and how many there were.
    const kept = keptOf(stopped)!;
    expect(kept.changes).toHaveLength(200);
    expect(kept.changesTotal).toBe(250);
    expect(keptView({ ...stopped, backend: 'local' }, undefined)).toMatchObject({
      instanceName: 'local',
      containerId: 'c1',
      sizeBytes: 1234,
      cost: 'disk only, on this machine ($0/h)',
      remoteChangesTotal: 250,
    });
    expect(keptView({ ...stopped, status: 'running' }, undefined)).toBeUndefined();
    // Resumed, then stopped for good.
    expect(store.transition('r1', 'submitted').status).toBe('submitted');
    for (const to of ['provisioning', 'running', 'terminating', 'stopped', 'terminated'] as const) store.transition('r1', to);
    expect(store.stopped()).toEqual([]);
    expect(() => store.transition('r1', 'submitted')).toThrow(/terminated → submitted is not an allowed transition/);
  });
});
