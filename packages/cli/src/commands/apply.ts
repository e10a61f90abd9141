// dstack apply -f FILE: have the daemon validate a configuration and apply it. Dispatches on the file's `type`;
// dev environments are handled in apply-run.ts, fleets in apply-fleet.ts.
import type { Command } from 'commander';
import { applyFleet } from '../fleet/apply-fleet';
import { applyDevEnvironment, type ApplyOptions } from '../run/apply-run';
import { configurationKind, readConfigurationFile, reportConfigurationErrors, type ConfigurationKind } from '../config/configuration';
import { addOverrideOptions, addRunOptions, parseCount } from '../config/overrides';
import { trace } from '../trace';
import { applyVolume } from './volume';

type Applier = (file: string, text: string, opts: ApplyOptions) => Promise<void>;

const APPLIERS: Record<ConfigurationKind, Applier> = {
  'dev-environment': applyDevEnvironment,
  fleet: applyFleet,
  volume: applyVolume,
};

const collect = (v: string, prev: string[]) => [...prev, v];

const ENV_HELP = `
Secrets (tokens, passwords) never need to be typed on a command line, where \`ps\` shows them:
  -e NAME             takes NAME's value from this shell (export NAME first, or set it in your profile)
  --env-file FILE     one variable a line: NAME=VALUE (the value as is, to the end of the line), or NAME
                      alone for this shell's value; lines starting with # and blank lines are skipped;
                      a bad line stops apply with FILE:LINE: what is wrong
Values from either, and those of env entries listed without one (\`- HF_TOKEN\`), are secrets: the daemon
keeps them sealed, they never show in logs, \`ps\`, files of the agent or \`docker inspect\`. A value given
as -e NAME=VALUE is a plain one (it is on the command line already). -e comes after --env-file: it wins.`;

export function register(program: Command): void {
  const cmd = program
    .command('apply')
    .description('Apply a configuration: plan, confirm, provision, upload the repo, and attach')
    .requiredOption('-f, --file <FILE>', 'the configuration file (.dstack.yml)')
    .option('-y, --yes', 'do not ask for confirmation')
    .option('-d, --detach', 'return once the run is up instead of attaching to it')
    .option('--force', 'apply even when nothing changed in an active run of the same name')
    .option(
      '-e, --env <KEY[=VALUE]>',
      'an environment variable (repeatable); KEY alone takes its value from this shell and keeps it off the command line, as a secret',
      collect,
      [],
    )
    .option(
      '--env-file <FILE>',
      "environment variables from FILE (repeatable; Docker's format, values are secrets): see below",
      collect,
      [],
    )
    .option('--no-repo', 'do not upload the repo')
    .option('--sync', 'keep syncing local changes into the run once it is up (see `dstack sync`)')
    .option('--max-offers <N>', 'how many offers the plan shows (default 3)', parseCount)
    .option('--json', 'with -d: print the run as one JSON object once it is up');
  addRunOptions(addOverrideOptions(cmd, undefined, true))
    .addHelpText('after', ENV_HELP)
    .action(async (opts: ApplyOptions) => {
      trace('apply starts');
      const text = readConfigurationFile(opts.file);
      trace('configuration read');
      // The daemon parses and validates the file; a bad one comes back as its FILE:LINE:COL lines.
      await APPLIERS[configurationKind(text)](opts.file, text, opts).catch((err: unknown) => {
        throw reportConfigurationErrors(err);
      });
    });
}
