// A configuration file for apply and offer: its text and path, the flag overrides, the -e/--env-file
// entries and this process's environment go to the daemon as one ConfigurationSource; the daemon
// parses and validates it (the CLI loads neither yaml nor zod for it). The daemon answers a bad file
// with every problem as FILE:LINE:COL: message, printed here one per line as `dstack validate` does.
import { readFileSync } from 'node:fs';
import { CONFIGURATION_ERRORS_HEADER } from '@dstack/core/config/source';
import type { ConfigurationOverrides, ConfigurationSource, Profiles } from '@dstack/core/gen/daemon';
import type { EnvFlag } from './env-vars';
import { DaemonError, ReportedError, UserError, whyUnreadable } from '../errors';

export type ConfigurationKind = 'dev-environment' | 'fleet' | 'volume';

export function readConfigurationFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new UserError(`cannot read ${file}: ${whyUnreadable(err)}`);
  }
}

/**
 * The file's `type`, read from its top-level `type:` line without a YAML parser (apply dispatches on
 * it before asking the daemon). Anything else (no such line, another value) is sent as a dev
 * environment: the daemon's answer then says what is wrong at its FILE:LINE:COL.
 */
export function configurationKind(text: string): ConfigurationKind {
  const m = /^type[ \t]*:[ \t]*(["']?)([A-Za-z-]+)\1[ \t]*(#.*)?$/m.exec(text);
  return m?.[2] === 'fleet' || m?.[2] === 'volume' ? m[2] : 'dev-environment';
}

export function configurationSource(
  file: string,
  text: string,
  opts: { overrides?: ConfigurationOverrides; env?: readonly EnvFlag[]; processEnv?: NodeJS.ProcessEnv; profiles?: Profiles } = {},
): ConfigurationSource {
  const processEnv = opts.processEnv ?? process.env;
  const callerEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(processEnv)) if (v !== undefined) callerEnv[k] = v;
  return {
    path: file,
    text,
    cwd: process.cwd(),
    overrides: opts.overrides,
    env: (opts.env ?? []).map((f) => ({ name: f.name, value: f.value ?? undefined, secret: f.secret })),
    // The daemon reads only the names the configuration refers to (see ConfigurationSource in daemon.proto).
    callerEnv,
    profiles: opts.profiles,
  };
}

/** A daemon's answer listing a file's problems: print them as they are and exit 1; other errors pass. */
export function reportConfigurationErrors(err: unknown): unknown {
  if (!(err instanceof DaemonError) || !err.message.startsWith(`${CONFIGURATION_ERRORS_HEADER}\n`)) return err;
  process.stderr.write(`${err.message.slice(CONFIGURATION_ERRORS_HEADER.length + 1)}\n`);
  return new ReportedError();
}
