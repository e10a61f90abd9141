// Environment variables for a run or a fleet: `--env-file FILE`, then `-e KEY=VALUE` and `-e KEY`
// (taken from this shell), read here and sent with the configuration (ConfigurationSource.env); the
// daemon puts them on top of the file's `env` (core's config/source.ts resolveEnv). Values that did
// not come typed on the command line (from the shell or an env file), and those of entries listed
// without a value, are secrets: the daemon seals them at rest and no log, file or command line shows
// them. A missing one fails before anything is created, naming every such variable.
import { readFileSync } from 'node:fs';
import { ReportedError, UsageError, UserError, whyUnreadable } from '../errors';

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** One variable given to apply; `value` null: take it from the CLI's environment. */
export type EnvFlag = { name: string; value: string | null; secret: boolean };

/** `-e` values: `KEY=VALUE` (typed on the command line: not a secret) or `KEY` (from the shell: a secret). */
export function parseEnvFlags(values: readonly string[]): EnvFlag[] {
  return values.map((v) => {
    const eq = v.indexOf('=');
    const name = eq < 0 ? v : v.slice(0, eq);
    if (!NAME_RE.test(name)) {
      throw new UsageError(
        `-e ${JSON.stringify(v)}: expected KEY=VALUE or KEY, with KEY a variable name (letters, digits, _; not starting with a digit)`,
      );
    }
    return eq < 0 ? { name, value: null, secret: true } : { name, value: v.slice(eq + 1), secret: false };
  });
}

/** A bad line of an env file: `FILE:LINE: message` (the message never quotes a value). */
export class EnvFileError extends UserError {
  constructor(file: string, line: number, message: string) {
    super(`${file}:${line}: ${message}`);
    this.name = 'EnvFileError';
  }
}

/**
 * Docker's --env-file format: `KEY=VALUE` lines (the value is everything after the first `=`, as
 * is: no quotes removed, no spaces trimmed), `KEY` alone takes its value from `processEnv`, lines
 * starting with `#` and blank lines are skipped, leading spaces are ignored. Every value is a secret.
 */
export function parseEnvFile(file: string, text: string, processEnv: NodeJS.ProcessEnv = process.env): EnvFlag[] {
  const flags: EnvFlag[] = [];
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  lines.forEach((raw, i) => {
    const line = raw.replace(/\r$/, '').trimStart();
    if (!line || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    const name = eq < 0 ? line : line.slice(0, eq);
    if (!name) throw new EnvFileError(file, i + 1, 'no variable name before "="');
    if (!NAME_RE.test(name)) {
      throw new EnvFileError(
        file,
        i + 1,
        `${JSON.stringify(name)} is not a variable name: letters, digits and _, not starting with a digit`,
      );
    }
    if (eq >= 0) {
      flags.push({ name, value: line.slice(eq + 1), secret: true });
      return;
    }
    const value = processEnv[name];
    if (value === undefined) throw new EnvFileError(file, i + 1, `${name} has no value here and is not set in your environment`);
    flags.push({ name, value, secret: true });
  });
  return flags;
}

/** The variables of `--env-file` FILEs (in order), then `-e` flags: later ones win. */
export function envFlags(opts: { env?: string[]; envFile?: string[] }, processEnv: NodeJS.ProcessEnv = process.env): EnvFlag[] {
  const fromFiles: EnvFlag[] = [];
  for (const file of opts.envFile ?? []) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new UsageError(`--env-file ${JSON.stringify(file)}: ${whyUnreadable(err)}`);
    }
    try {
      fromFiles.push(...parseEnvFile(file, text, processEnv));
    } catch (err) {
      if (!(err instanceof EnvFileError)) throw err;
      // As a bad configuration file is reported: the location first, on a line of its own.
      process.stderr.write(`${err.message}\n`);
      throw new ReportedError();
    }
  }
  return [...fromFiles, ...parseEnvFlags(opts.env ?? [])];
}
