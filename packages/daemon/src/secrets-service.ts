// `dstack secret set|get|list|delete`: the user's secrets, sealed in state.db (state/secrets-store.ts),
// and the values for `${{ secrets.NAME }}` when a run's configuration is read (config-source.ts).
// Every value is on the daemon log's redaction list from the moment it is set, and from the start of
// the daemon for those set before. Errors name the secret, never its value.
import type { GetSecretResponse, ListSecretsResponse, SecretInfo, SetSecretRequest, SetSecretResponse } from '@dstack/core/gen/daemon';
import { secretNameProblem } from '@dstack/core/config/interpolate';
import { controlCharIn } from '@dstack/core/quoting';
import { BadRequestError, NotFoundError } from '@dstack/core/grpc';
import type { Logger } from './logger';
import type { SecretRow, SecretsStore } from './state/secrets-store';

/** dstack's limit on a secret's value. */
const MAX_VALUE_CHARS = 5000;

const info = (r: SecretRow): SecretInfo => ({ name: r.name, createdMs: r.createdMs, updatedMs: r.updatedMs });

export class SecretService {
  constructor(
    private readonly store: SecretsStore,
    private readonly log: Pick<Logger, 'redact' | 'info' | 'warn'>,
  ) {
    for (const r of store.list()) {
      try {
        log.redact(store.value(r.name)!);
      } catch (err) {
        // A key that changed under state.db: the secret cannot be used either; say so, go on.
        log.warn(`secret ${r.name}: its sealed value cannot be opened`, { error: (err as Error).message });
      }
    }
  }

  set(req: SetSecretRequest): SetSecretResponse {
    checkName(req.name);
    if (!req.value) throw new BadRequestError(`secret ${req.name}: the value is empty`);
    if (req.value.length > MAX_VALUE_CHARS) {
      throw new BadRequestError(`secret ${req.name}: the value has ${req.value.length} characters, more than ${MAX_VALUE_CHARS}`);
    }
    const control = controlCharIn(req.value.replace(/[\t\n]/g, ''));
    if (control) {
      throw new BadRequestError(`secret ${req.name}: the value has a control character (${control}) other than a tab or line break`);
    }
    this.log.redact(req.value);
    const { row, created } = this.store.set(req.name, req.value);
    this.log.info(`secret ${req.name} ${created ? 'created' : 'updated'}`);
    return { secret: info(row), created };
  }

  get(name: string): GetSecretResponse {
    checkName(name);
    const value = this.store.value(name);
    if (value === undefined) throw notFound(name);
    return { name, value };
  }

  list(): ListSecretsResponse {
    return { secrets: this.store.list().map(info) };
  }

  delete(name: string): void {
    checkName(name);
    if (!this.store.delete(name)) throw notFound(name);
    this.log.info(`secret ${name} deleted`);
  }

  /** The value for `${{ secrets.NAME }}`; undefined for an unknown name. */
  lookup = (name: string): string | undefined => (secretNameProblem(name) ? undefined : this.store.value(name));
}

function checkName(name: string): void {
  const problem = secretNameProblem(name);
  if (problem) throw new BadRequestError(problem);
}

function notFound(name: string): NotFoundError {
  return new NotFoundError(`no secret named ${name}: see \`dstack secret list\``);
}
