// Environment variables for a run: `-e KEY=VALUE` and `-e KEY` (taken from this shell) on top of the
// file's `env`. Entries the file lists without a value must get one here, from -e or the CLI's
// environment; their values travel as secrets (ApplyRunRequest.secret_env), never in the
// configuration. A missing one fails before anything is created, naming every such variable.
import { UsageError, UserError } from './errors';

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

export type EnvFlag = { name: string; value: string | null };

/** `-e` values: `KEY=VALUE` or `KEY`. */
export function parseEnvFlags(values: readonly string[]): EnvFlag[] {
  return values.map((v) => {
    const eq = v.indexOf('=');
    const name = eq < 0 ? v : v.slice(0, eq);
    if (!NAME_RE.test(name)) {
      throw new UsageError(`-e ${JSON.stringify(v)}: expected KEY=VALUE or KEY, with KEY a variable name (letters, digits, _; not starting with a digit)`);
    }
    return { name, value: eq < 0 ? null : v.slice(eq + 1) };
  });
}

export interface ResolvedEnv {
  /** The configuration's env: plain values set, null where the value is a secret. */
  env: Record<string, string | null>;
  /** Values of the entries listed without one. */
  secretEnv: Record<string, string>;
}

export function resolveEnv(
  fileEnv: Record<string, string | null>,
  flags: readonly EnvFlag[],
  processEnv: NodeJS.ProcessEnv = process.env,
): ResolvedEnv {
  const env: Record<string, string | null> = { ...fileEnv };
  const secretEnv: Record<string, string> = {};
  const missing: string[] = [];
  const given = new Map<string, string | undefined>();
  for (const f of flags) given.set(f.name, f.value ?? processEnv[f.name]);
  for (const [name, value] of given) {
    if (value === undefined) {
      missing.push(name);
      continue;
    }
    if (name in fileEnv && fileEnv[name] === null) secretEnv[name] = value;
    else env[name] = value;
  }
  for (const [name, value] of Object.entries(fileEnv)) {
    if (value !== null || given.has(name)) continue;
    const fromShell = processEnv[name];
    if (fromShell === undefined) missing.push(name);
    else secretEnv[name] = fromShell;
  }
  if (missing.length) {
    const list = [...new Set(missing)].join(', ');
    throw new UserError(
      `no value for env ${list}: pass ${missing.length > 1 ? 'each ' : ''}with -e NAME=VALUE or set ${missing.length > 1 ? 'them' : 'it'} in your environment`,
    );
  }
  return { env, secretEnv };
}
