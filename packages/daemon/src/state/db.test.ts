import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MIGRATIONS, SCHEMA_VERSION, migrate, openDb } from './db';
import { testRunRow } from './test-run-row';
import { RunsStore, TransitionError, type RunRow } from './runs-store';

const dir = mkdtempSync(join(tmpdir(), 'dstack-db-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(id: string, name: string): RunRow {
  return testRunRow({ id, name });
}

describe('migrations', () => {
  it('bring a new file to the latest schema in WAL mode, and run once', () => {
    const file = join(dir, 'a.db');
    const db = openDb(file);
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(migrate(db)).toBe(0);
    db.close();
    expect(migrate(new Database(file))).toBe(0);
  });

  it('apply only the newer ones, each in a transaction', () => {
    const db = new Database(join(dir, 'b.db'));
    expect(migrate(db, MIGRATIONS.slice(0, 1))).toBe(1);
    const next = [...MIGRATIONS, { version: SCHEMA_VERSION + 1, name: 'test', sql: 'CREATE TABLE extra (x INTEGER);' }];
    expect(migrate(db, next)).toBe(next.length - 1);
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION + 1);
    const broken = [...next, { version: SCHEMA_VERSION + 2, name: 'broken', sql: 'CREATE TABLE y (a); SELECT nope FROM nowhere;' }];
    expect(() => migrate(db, broken)).toThrow();
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION + 1);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'y'").get()).toBeUndefined();
  });

  it('keep the runs of a version 3 file: inactivity_duration moves from its column into the configuration', () => {
    const db = new Database(join(dir, 'v3.db'));
    migrate(
      db,
      MIGRATIONS.filter((m) => m.version <= 3),
    );
    const stored = { ...run('old', 'old-run').configuration, inactivity_duration: 60 };
    const insert = db.prepare(
      `INSERT INTO runs (id, name, status, submitted_ms, configuration_json, inactivity_duration) VALUES (?, ?, 'running', 1, ?, ?)`,
    );
    // Version 3 kept both; an in-place update wrote both, the column being what the limits read.
    insert.run('old', 'old-run', JSON.stringify(stored), 7200);
    insert.run('off', 'off-run', JSON.stringify({ ...stored, inactivity_duration: null }), null);
    expect(migrate(db)).toBe(SCHEMA_VERSION - 3);
    const columns = (db.prepare('PRAGMA table_info(runs)').all() as { name: string }[]).map((c) => c.name);
    expect(columns).not.toContain('inactivity_duration');
    const store = new RunsStore(db);
    expect(store.get('old')!.configuration).toEqual({ ...stored, inactivity_duration: 7200 });
    expect(store.get('off')!.configuration.inactivity_duration).toBeNull();
  });

  it('refuse a stored configuration this version cannot read, naming the run', () => {
    const db = openDb(join(dir, 'bad-config.db'));
    db.prepare(`INSERT INTO runs (id, name, status, submitted_ms, configuration_json) VALUES ('x', 'odd', 'running', 1, ?)`).run(
      JSON.stringify({ type: 'dev-environment', name: 5 }),
    );
    expect(() => new RunsStore(db).get('x')).toThrow(/^state\.db: run odd: the stored configuration does not fit this version: /);
  });

  it('refuse a file from a newer daemon', () => {
    const db = new Database(join(dir, 'c.db'));
    db.pragma(`user_version = ${SCHEMA_VERSION + 5}`);
    expect(() => migrate(db)).toThrow(/newer than this daemon knows/);
  });
});

describe('runs store', () => {
  it('moves a run only along the table, recording every move', () => {
    const store = new RunsStore(openDb(join(dir, 'runs.db')));
    store.insert(run('r1', 'dev'));
    store.transition('r1', 'provisioning', { jobId: 'r1-1' }, 2000);
    expect(() => store.transition('r1', 'done')).toThrow(TransitionError);
    store.transition('r1', 'terminating', { terminationReason: 'stopped_by_user' }, 3000);
    const done = store.transition('r1', 'terminated', { finishedMs: 4000 }, 4000);
    expect(done).toMatchObject({ status: 'terminated', jobId: 'r1-1', terminationReason: 'stopped_by_user', finishedMs: 4000 });
    expect(store.transitions('r1').map((t) => `${t.from}>${t.to}`)).toEqual([
      '>submitted',
      'submitted>provisioning',
      'provisioning>terminating',
      'terminating>terminated',
    ]);
  });

  it('keeps one active run per name, but any number of finished ones', () => {
    const store = new RunsStore(openDb(join(dir, 'names.db')));
    store.insert(run('a', 'same'));
    expect(() => store.insert(run('b', 'same'))).toThrow(/UNIQUE/);
    store.transition('a', 'failed', { terminationReason: 'failed_to_start_due_to_no_capacity' });
    store.insert(run('b', 'same'));
    expect(store.activeByName('same')?.id).toBe('b');
    expect(store.finishedByName('same').map((r) => r.id)).toEqual(['a']);
    expect(store.list({ all: false }).map((r) => r.id)).toEqual(['b']);
  });
});
