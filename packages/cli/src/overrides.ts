// Flags that override the configuration file (--gpu, --cpu, --memory, --disk, --max-price, --spot,
// --on-demand, --spot-auto), read with the same grammar as the file's `resources:`. A bad value is
// a usage error that names the flag; nothing is changed.
import type { ResourcesSpec, SpotPolicy } from '@dstack/core/config/types';
import { Issues, parseCpu, parseDisk, parseGpu, parseMemoryRange } from '@dstack/core/resources/index';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { UsageError } from './errors';

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

/** The part of a configuration the flags change. */
export interface Overridable {
  resources: ResourcesSpec;
  spot_policy: SpotPolicy;
  max_price: number | null;
}

/** Parses every flag first (all or nothing), then applies them to `config`. */
export function applyOverrides<T extends Overridable>(config: T, flags: OverrideFlags): T {
  const issues = new Issues();
  const out = structuredClone(config);
  const one = <V>(flag: string, value: string | undefined, parse: (v: string) => V | undefined, set: (v: V) => void) => {
    if (value === undefined) return;
    const before = issues.list.length;
    const parsed = parse(value);
    if (issues.list.length > before || parsed === undefined) {
      const msg = issues.list.slice(before).map((i) => i.message).join('; ') || 'invalid value';
      throw new UsageError(`${flag} ${JSON.stringify(value)}: ${msg}`);
    }
    set(parsed);
  };
  one('--gpu', flags.gpu, (v) => parseGpu(v, issues), (v) => (out.resources.gpu = v));
  one('--cpu', flags.cpu, (v) => parseCpu(v, issues), (v) => (out.resources.cpu = v));
  one('--memory', flags.memory, (v) => issues.at([], () => parseMemoryRange(v)), (v) => (out.resources.memory = v));
  one('--disk', flags.disk, (v) => parseDisk(v, issues), (v) => (out.resources.disk = v));
  if (flags.maxPrice !== undefined) {
    const n = Number(flags.maxPrice);
    if (!/^\s*\d*\.?\d+\s*$/.test(flags.maxPrice) || !(n > 0)) {
      throw new UsageError(`--max-price ${JSON.stringify(flags.maxPrice)}: expected dollars per hour, a number greater than 0 (e.g. 0.5)`);
    }
    out.max_price = n;
  }
  const policies = [flags.spot && 'spot', flags.onDemand && 'on-demand', flags.spotAuto && 'auto'].filter(Boolean) as SpotPolicy[];
  if (policies.length > 1) throw new UsageError('--spot, --on-demand and --spot-auto exclude each other: give one');
  if (policies.length) out.spot_policy = policies[0];
  return out;
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
