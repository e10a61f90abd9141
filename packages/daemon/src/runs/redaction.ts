// The daemon log's redaction list (logger.ts): every secret value of an active run (secret env
// values, the registry password, a registry user taken from a secret). Registered when a run is applied, and again from state.db, where
// they are sealed, when the daemon starts: a line written after a restart about a run applied before
// it is masked too. Fleet env values given as secrets are never stored, so there is nothing of
// theirs to rebuild (a daemon that did not receive them never holds them).
import type { Logger } from '../logger';
import type { SecretBox } from '../secrets';
import type { RunsStore } from '../state/runs-store';
import type { RunSecrets } from './configuration';

export function redactRunSecrets(log: Pick<Logger, 'redact'>, secrets: RunSecrets): void {
  for (const v of Object.values(secrets.env)) log.redact(v);
  if (secrets.registryPassword) log.redact(secrets.registryPassword);
  if (secrets.registryUsername) log.redact(secrets.registryUsername);
}

/** Registers the secrets of every unfinished run in the store; returns how many runs had some. */
export function redactStoredSecrets(store: Pick<RunsStore, 'unfinished'>, box: SecretBox, log: Pick<Logger, 'redact' | 'warn'>): number {
  let runs = 0;
  for (const row of store.unfinished()) {
    if (!row.secrets) continue;
    try {
      redactRunSecrets(log, box.openJson<RunSecrets>(row.secrets));
      runs++;
    } catch (err) {
      // A key that changed under state.db: the run cannot get its secrets either; say so, go on.
      log.warn(`run ${row.name}: its sealed secrets cannot be opened`, { error: (err as Error).message });
    }
  }
  return runs;
}
