// dstack validate -f FILE [--json]: check a configuration without applying it. Prints the normalized
// configuration (dstack's defaults filled in) as YAML, or as one JSON object with --json; or every
// problem, one `FILE:LINE:COL: message` line each on stderr, and exits 1. A deprecated key dstack still
// accepts is a `warning: FILE:LINE:COL: message` line on stderr. Secrets are not resolved:
// `${{ env.NAME }}` references are checked but kept, env entries without a value stay without one.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { UserError } from '../errors';
import { configurationKind } from '../config/configuration';

interface ValidateOptions {
  file: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('validate')
    .description('Check a configuration file and print it normalized, with defaults (nothing is applied)')
    .option('-f, --file <FILE>', 'the configuration file', '.dstack.yml')
    .option('--json', 'print the normalized configuration as one JSON object')
    .action(async (opts: ValidateOptions) => {
      process.exitCode = await validate(opts);
    });
}

async function validate(opts: ValidateOptions): Promise<number> {
  const text = readConfigurationFile(opts.file);
  if (configurationKind(text) === 'volume') return validateVolume(opts, text);
  // Loaded here, not at start-up: yaml and zod are the CLI's heaviest modules.
  const { parseConfiguration, formatError, toJson, toYaml } = await import('@dstack/core/config/index');
  const result = parseConfiguration(opts.file, text);
  if (!result.ok) {
    process.stderr.write(result.errors.map((e) => `${formatError(e)}\n`).join(''));
    return 1;
  }
  // Deprecated keys dstack still accepts (`setup`, `home_dir`): the file is valid, with a warning each.
  process.stderr.write((result.warnings ?? []).map((w) => `warning: ${formatError(w)}\n`).join(''));
  process.stdout.write(opts.json ? `${JSON.stringify(toJson(result.config), null, 2)}\n` : toYaml(result.config));
  return 0;
}

/** A `type: volume` file (not a run's configuration): its keys as dstack writes them, size in GB. */
async function validateVolume(opts: ValidateOptions, text: string): Promise<number> {
  const { parseVolumeConfiguration } = await import('@dstack/core/config/volume');
  const { formatError } = await import('@dstack/core/config/index');
  const result = parseVolumeConfiguration(opts.file, text);
  if (!result.ok) {
    process.stderr.write(result.errors.map((e) => `${formatError(e)}\n`).join(''));
    return 1;
  }
  const c = result.config;
  const out: Record<string, string> = { type: 'volume', name: c.name, backend: c.backend };
  if (c.region) out.region = c.region;
  if (c.sizeGb) out.size = `${c.sizeGb}GB`;
  if (c.volumeId) out.volume_id = c.volumeId;
  process.stdout.write(
    opts.json
      ? `${JSON.stringify(out, null, 2)}\n`
      : Object.entries(out)
          .map(([k, v]) => `${k}: ${JSON.stringify(v)}\n`)
          .join(''),
  );
  return 0;
}

function readConfigurationFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'it is a folder'
          : code === 'EACCES'
            ? 'permission denied'
            : (err as Error).message;
    throw new UserError(`${file}: cannot read: ${why}`);
  }
}
