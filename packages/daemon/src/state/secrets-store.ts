// The user's secrets (`dstack secret set NAME`) in SQLite: one row per name, the value sealed with
// the daemon's SecretBox (secret.key), so state.db never holds one in clear. Names are checked by the
// caller (secrets-service.ts).
import type { SecretBox } from '../secrets';
import type { Db } from './db';

export interface SecretRow {
  name: string;
  createdMs: number;
  updatedMs: number;
}

interface Raw {
  name: string;
  created_ms: number;
  updated_ms: number;
}

const fromDb = (r: Raw): SecretRow => ({ name: r.name, createdMs: r.created_ms, updatedMs: r.updated_ms });

export class SecretsStore {
  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
  ) {}

  /** Creates or replaces the value; created: there was no secret of that name. */
  set(name: string, value: string, nowMs = Date.now()): { row: SecretRow; created: boolean } {
    const sealed = this.box.encrypt(value);
    return this.db.transaction(() => {
      const had = this.row(name);
      this.db
        .prepare(
          `INSERT INTO secrets (name, value, created_ms, updated_ms) VALUES (?, ?, ?, ?)
           ON CONFLICT(name) DO UPDATE SET value = excluded.value, updated_ms = excluded.updated_ms`,
        )
        .run(name, sealed, nowMs, nowMs);
      return { row: this.row(name)!, created: !had };
    })();
  }

  /** The value in clear, or undefined when there is no such secret. */
  value(name: string): string | undefined {
    const r = this.db.prepare('SELECT value FROM secrets WHERE name = ?').get(name) as { value: Buffer } | undefined;
    return r ? this.box.decrypt(r.value) : undefined;
  }

  row(name: string): SecretRow | undefined {
    const r = this.db.prepare('SELECT name, created_ms, updated_ms FROM secrets WHERE name = ?').get(name) as Raw | undefined;
    return r ? fromDb(r) : undefined;
  }

  /** Every secret's name and times (never a value), by name. */
  list(): SecretRow[] {
    return (this.db.prepare('SELECT name, created_ms, updated_ms FROM secrets ORDER BY name').all() as Raw[]).map(fromDb);
  }

  /** False when there was no such secret. */
  delete(name: string): boolean {
    return this.db.prepare('DELETE FROM secrets WHERE name = ?').run(name).changes > 0;
  }
}
