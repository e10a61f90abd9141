// Flags that override the configuration file (--gpu, --cpu, --memory, --disk, --max-price, --spot,
// --on-demand, --spot-auto). They travel to the daemon as typed (ConfigurationOverrides), which
// applies them with the file's grammar; they are checked here first, so a bad value is a usage error
// that names the flag and nothing is asked of the daemon.
import type { ConfigurationOverrides } from '@dstack/core/gen/daemon';
import { OverrideError, parseOverrides } from '@dstack/core/config/source';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { UsageError } from '../errors';

export interface OverrideFlags {
  gpu?: string;
  cpu?: string;
  memory?: string;
  disk?: string;
  maxPrice?: string;
  spot?: boolean;
  onDemand?: boolean;
  spotAuto?: boolean;
}

/** The flags checked (all or nothing) and as the daemon takes them; `spotPolicy`: the default policy. */
export function overridesOf(flags: OverrideFlags, spotPolicy = ''): ConfigurationOverrides {
  const policies = [flags.spot && 'spot', flags.onDemand && 'on-demand', flags.spotAuto && 'auto'].filter(Boolean) as string[];
  if (policies.length > 1) throw new UsageError('--spot, --on-demand and --spot-auto exclude each other: give one');
  const values = {
    gpu: flags.gpu,
    cpu: flags.cpu,
    memory: flags.memory,
    disk: flags.disk,
    maxPrice: flags.maxPrice,
    spotPolicy: policies[0] ?? (spotPolicy || undefined),
  };
  try {
    parseOverrides(values);
  } catch (err) {
    if (err instanceof OverrideError) throw new UsageError(err.message);
    throw err;
  }
  return {
    gpu: values.gpu ?? '',
    cpu: values.cpu ?? '',
    memory: values.memory ?? '',
    disk: values.disk ?? '',
    maxPrice: values.maxPrice ?? '',
    spotPolicy: values.spotPolicy ?? '',
  };
}

/** Declares the override flags on a command (apply and offer share them). */
export function addOverrideOptions(cmd: Command, spotAutoHelp = 'spot when cheaper, else on-demand'): Command {
  return cmd
    .option('--gpu <SPEC>', 'GPUs: vendor, names, memory, count (e.g. 24GB, A100:80GB:2, nvidia:2..)')
    .option('--cpu <SPEC>', 'CPU cores, optionally with the architecture (e.g. 4, 8.., x86:16)')
    .option('--memory <SIZE>', 'RAM (e.g. 16GB, 32GB..)')
    .option('--disk <SIZE>', 'disk (e.g. 100GB, 200GB..1TB)')
    .option('--max-price <DOLLARS>', 'the most to pay per hour')
    .addOption(new Option('--spot', 'spot instances only').conflicts(['onDemand', 'spotAuto']))
    .addOption(new Option('--on-demand', 'on-demand instances only').conflicts(['spot', 'spotAuto']))
    .addOption(new Option('--spot-auto', spotAutoHelp).conflicts(['spot', 'onDemand']));
}

/** `--max-offers N`: a whole number of at least 1. */
export function parseMaxOffers(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of at least 1');
  return n;
}

/** A repeatable, comma-separated flag (`--group-by gpu,backend`, `-r a -r b`): every value, in order. */
export function collectList(v: string, prev: string[]): string[] {
  return [
    ...prev,
    ...v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  ];
}
