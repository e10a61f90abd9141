// The daemon's state: one SQLite file ($DSTACK_HOME/state.db) in WAL mode, with versioned
// migrations kept in code (PRAGMA user_version says which ran). A transition is committed here
// before the daemon acts on it, so a kill -9 at any moment leaves a state that reconcile can finish.
import Database from 'better-sqlite3';

export type Db = Database.Database;

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'runs, their transitions, instances, the file hash cache',
    sql: `
      CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        status TEXT NOT NULL,
        termination_reason TEXT NOT NULL DEFAULT '',
        status_message TEXT NOT NULL DEFAULT '',
        submitted_ms INTEGER NOT NULL,
        finished_ms INTEGER NOT NULL DEFAULT 0,
        configuration_json TEXT NOT NULL,
        secrets BLOB,
        configuration_path TEXT NOT NULL DEFAULT '',
        repo_dir TEXT NOT NULL DEFAULT '',
        no_repo INTEGER NOT NULL DEFAULT 0,
        repo_id TEXT NOT NULL DEFAULT '',
        ide_version TEXT NOT NULL DEFAULT '',
        attempt INTEGER NOT NULL DEFAULT 0,
        job_id TEXT NOT NULL DEFAULT '',
        instance_key TEXT NOT NULL DEFAULT '',
        backend TEXT NOT NULL DEFAULT '',
        region TEXT NOT NULL DEFAULT '',
        price REAL NOT NULL DEFAULT 0,
        resources_json TEXT NOT NULL DEFAULT '',
        retry_at_ms INTEGER NOT NULL DEFAULT 0,
        running_ms INTEGER NOT NULL DEFAULT 0,
        running_since_ms INTEGER NOT NULL DEFAULT 0,
        job_json TEXT NOT NULL DEFAULT '',
        inactivity_duration INTEGER,
        ssh_alias TEXT NOT NULL DEFAULT ''
      );
      CREATE INDEX runs_name ON runs(name);
      CREATE UNIQUE INDEX runs_one_active_name ON runs(name)
        WHERE status NOT IN ('terminated', 'failed', 'done');

      CREATE TABLE run_transitions (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL,
        time_ms INTEGER NOT NULL,
        from_status TEXT NOT NULL,
        to_status TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        message TEXT NOT NULL DEFAULT ''
      );
      CREATE INDEX run_transitions_run ON run_transitions(run_id);

      CREATE TABLE instances (
        key TEXT PRIMARY KEY,
        backend TEXT NOT NULL,
        instance_id TEXT NOT NULL,
        name TEXT NOT NULL,
        status TEXT NOT NULL,
        status_message TEXT NOT NULL DEFAULT '',
        record_json TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        agent_version TEXT NOT NULL DEFAULT '',
        agent_sha256 TEXT NOT NULL DEFAULT '',
        agent_instance_id TEXT NOT NULL DEFAULT ''
      );

      CREATE TABLE file_hashes (
        path TEXT PRIMARY KEY,
        size INTEGER NOT NULL,
        mtime_ns TEXT NOT NULL,
        ino INTEGER NOT NULL,
        sha256 TEXT NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: 'fleets (type: fleet): one row per fleet; its hosts are instances whose record names the fleet',
    sql: `
      CREATE TABLE fleets (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        status TEXT NOT NULL,
        status_message TEXT NOT NULL DEFAULT '',
        configuration_json TEXT NOT NULL,
        configuration_path TEXT NOT NULL DEFAULT '',
        created_ms INTEGER NOT NULL,
        finished_ms INTEGER NOT NULL DEFAULT 0
      );
      CREATE UNIQUE INDEX fleets_one_active_name ON fleets(name)
        WHERE status NOT IN ('terminated', 'failed');
    `,
  },
  {
    version: 3,
    name: 'live file sync: one row per run with sync on, and the conflicts it reported',
    sql: `
      CREATE TABLE syncs (
        run_id TEXT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
        enabled INTEGER NOT NULL DEFAULT 1,
        local_dir TEXT NOT NULL,
        started_ms INTEGER NOT NULL,
        stopped_ms INTEGER NOT NULL DEFAULT 0,
        stop_reason TEXT NOT NULL DEFAULT '',
        last_synced_ms INTEGER NOT NULL DEFAULT 0,
        files_synced INTEGER NOT NULL DEFAULT 0,
        batches INTEGER NOT NULL DEFAULT 0,
        round_trips INTEGER NOT NULL DEFAULT 0,
        last_batch_files INTEGER NOT NULL DEFAULT 0
      );
      CREATE TABLE sync_conflicts (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        path TEXT NOT NULL,
        kept_as TEXT NOT NULL,
        time_ms INTEGER NOT NULL
      );
      CREATE INDEX sync_conflicts_run ON sync_conflicts(run_id);
    `,
  },
  {
    version: 4,
    name: "runs: inactivity_duration only in the configuration (it was a column too, kept equal to the configuration's)",
    sql: `
      UPDATE runs SET configuration_json = json_set(configuration_json, '$.inactivity_duration', inactivity_duration)
        WHERE json_valid(configuration_json);
      ALTER TABLE runs DROP COLUMN inactivity_duration;
    `,
  },
  {
    version: 5,
    name: 'secrets (`dstack secret`): one row per name, the value sealed with secret.key',
    sql: `
      CREATE TABLE secrets (
        name TEXT PRIMARY KEY,
        value BLOB NOT NULL,
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL
      );
    `,
  },
  {
    version: 6,
    name: "fleet blocks: the blocks of a split fleet host a run's attempt holds ('': the whole instance)",
    sql: `ALTER TABLE runs ADD COLUMN gpu_blocks TEXT NOT NULL DEFAULT '';`,
  },
  {
    version: 7,
    name: "stop and resume with state: what a run stopped with its container kept holds (JSON; '': nothing kept)",
    // A `stopped` row still counts in runs_one_active_name (its status is not terminated, failed or
    // done): a name has one run that is active or stopped with its state.
    sql: `ALTER TABLE runs ADD COLUMN kept_json TEXT NOT NULL DEFAULT '';`,
  },
  {
    version: 8,
    name: 'network volumes (`type: volume`, `dstack volume`): one row per name, at one backend and region',
    sql: `
      CREATE TABLE volumes (
        name TEXT PRIMARY KEY,
        backend TEXT NOT NULL,
        region TEXT NOT NULL DEFAULT '',
        size_gb REAL NOT NULL DEFAULT 0,
        volume_id TEXT NOT NULL DEFAULT '',
        provider_name TEXT NOT NULL DEFAULT '',
        host_path TEXT NOT NULL DEFAULT '',
        external INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL,
        status_message TEXT NOT NULL DEFAULT '',
        created_ms INTEGER NOT NULL
      );
    `,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;

export function openDb(file: string): Db {
  const db = newDatabase(file);
  db.pragma('journal_mode = WAL');
  // FULL: a committed transition survives a crash of the machine too, not only of the daemon.
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  migrate(db);
  return db;
}

/** better-sqlite3 whose addon was never built throws a dozen paths it tried: say what to do instead. */
function newDatabase(file: string): Db {
  try {
    return new Database(file);
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('Could not locate the bindings file')) throw err;
    throw new Error(
      "better-sqlite3's native addon is not built (npm skips a dependency's install script unless allowed): reinstall with `npm install -g --allow-scripts=better-sqlite3,ssh2 ./dstack-VERSION.tgz`, or in a clone run `npm rebuild better-sqlite3`",
    );
  }
}

/** Runs the migrations newer than the file's user_version; returns how many ran. */
export function migrate(db: Db, migrations: Migration[] = MIGRATIONS): number {
  const current = db.pragma('user_version', { simple: true }) as number;
  const latest = migrations[migrations.length - 1]?.version ?? 0;
  if (current > latest) {
    throw new Error(
      `state.db has schema version ${current}, newer than this daemon knows (${latest}): upgrade dstack, or move the file away`,
    );
  }
  let ran = 0;
  for (const m of migrations) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    })();
    ran++;
  }
  return ran;
}
