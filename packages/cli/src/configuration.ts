// Reading a configuration file for apply: the text, parsed and validated by @dstack/core (loaded
// lazily: YAML and zod are the CLI's heaviest parts). Errors go to stderr one per line as
// FILE:LINE:COL: message, and nothing else happens.
import { readFileSync } from 'node:fs';
import type { Configuration } from '@dstack/core/config/types';
import { ReportedError, UserError, whyUnreadable } from './errors';

export async function loadConfiguration(file: string, env: NodeJS.ProcessEnv = process.env): Promise<Configuration> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UserError(`cannot read ${file}: ${whyUnreadable(err)}`);
  }
  const { parseConfiguration, formatError } = await import('@dstack/core/config/index');
  const result = parseConfiguration(file, text, env as Record<string, string | undefined>);
  if (!result.ok) {
    for (const e of result.errors) process.stderr.write(`${formatError(e)}\n`);
    throw new ReportedError();
  }
  return result.config;
}

/**
 * The normalized JSON sent to the daemon as configuration_json. The registry password goes in clear
 * (over the 0600 socket): the daemon seals it at rest and masks it in everything it returns.
 */
export async function configurationJson(config: Configuration): Promise<string> {
  const { toJson } = await import('@dstack/core/config/index');
  return JSON.stringify(toJson(config, { revealSecrets: true }));
}
