// Flags that override the configuration file: the resources (--gpu, --cpu, --memory, --disk), the
// price and spot policy (--max-price, --spot, --on-demand, --spot-auto, --spot-policy), and for apply
// dstack's run flags (-n, -b, -r, --instance-type, --fleet, --retry/--no-retry, --retry-duration,
// --max-duration, --idle-duration, -R/--reuse). They travel to the daemon as typed
// (ConfigurationOverrides), which applies them with the file's grammar; they are checked here first,
// so a bad value is a usage error that names the flag and nothing is asked of the daemon.
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
  spotPolicy?: string;
}

/** apply's flags on top: what dstack's `apply` takes for a run (see addRunOptions). */
export interface RunFlags extends OverrideFlags {
  name?: string;
  backend?: string[];
  region?: string[];
  instanceType?: string[];
  fleet?: string[];
  /** --retry: true; --no-retry: false. */
  retry?: boolean;
  retryDuration?: string;
  maxDuration?: string;
  idleDuration?: string;
  reuse?: boolean;
}

/** The flags checked (all or nothing) and as the daemon takes them; `spotPolicy`: the default policy. */
export function overridesOf(flags: RunFlags, spotPolicy = ''): ConfigurationOverrides {
  const policies = [flags.spot && 'spot', flags.onDemand && 'on-demand', flags.spotAuto && 'auto', flags.spotPolicy].filter(
    (p) => p !== undefined && p !== false,
  ) as string[];
  if (policies.length > 1) throw new UsageError('--spot, --on-demand, --spot-auto and --spot-policy exclude each other: give one');
  const values = {
    gpu: flags.gpu,
    cpu: flags.cpu,
    memory: flags.memory,
    disk: flags.disk,
    maxPrice: flags.maxPrice,
    spotPolicy: policies[0] ?? (spotPolicy || undefined),
    name: flags.name,
    backends: flags.backend,
    regions: flags.region,
    instanceTypes: flags.instanceType,
    fleets: flags.fleet,
    retry: flags.retry,
    retryDuration: flags.retryDuration,
    maxDuration: flags.maxDuration,
    idleDuration: flags.idleDuration,
    creationPolicy: flags.reuse ? 'reuse' : undefined,
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
    name: values.name ?? '',
    backends: values.backends ?? [],
    regions: values.regions ?? [],
    instanceTypes: values.instanceTypes ?? [],
    fleets: values.fleets ?? [],
    retry: values.retry,
    retryDuration: values.retryDuration ?? '',
    maxDuration: values.maxDuration ?? '',
    idleDuration: values.idleDuration ?? '',
    creationPolicy: values.creationPolicy ?? '',
  };
}

/** A repeatable flag taken as typed (`-b local -b ssh`), as dstack's `append`. */
const append = (v: string, prev: string[] = []) => [...prev, v];

/**
 * Declares the resource, price and spot flags on a command (apply and offer share them); `grouped`:
 * under dstack's help headings (Resources, Profile, Spot policy), for apply's long list.
 */
export function addOverrideOptions(cmd: Command, spotAutoHelp = 'spot when cheaper, else on-demand', grouped = false): Command {
  const opt = (flags: string, help: string, group: string) => {
    const o = new Option(flags, help);
    return grouped ? o.helpGroup(group) : o;
  };
  const spot = ['spot', 'onDemand', 'spotAuto', 'spotPolicy'];
  const others = (self: string) => spot.filter((s) => s !== self);
  return cmd
    .addOption(opt('--gpu <SPEC>', 'GPUs: vendor, names, memory, count (e.g. 24GB, A100:80GB:2, nvidia:2..)', 'Resources:'))
    .addOption(opt('--cpu <SPEC>', 'CPU cores, optionally with the architecture (e.g. 4, 8.., x86:16)', 'Resources:'))
    .addOption(opt('--memory <SIZE>', 'RAM (e.g. 16GB, 32GB..)', 'Resources:'))
    .addOption(opt('--disk <SIZE>', 'disk (e.g. 100GB, 200GB..1TB)', 'Resources:'))
    .addOption(opt('--max-price <DOLLARS>', 'the most to pay per hour', 'Profile:'))
    .addOption(opt('--spot', 'spot instances only', 'Spot policy:').conflicts(others('spot')))
    .addOption(opt('--on-demand', 'on-demand instances only', 'Spot policy:').conflicts(others('onDemand')))
    .addOption(opt('--spot-auto', spotAutoHelp, 'Spot policy:').conflicts(others('spotAuto')))
    .addOption(opt('--spot-policy <POLICY>', 'spot, on-demand or auto', 'Spot policy:').conflicts(others('spotPolicy')));
}

/**
 * dstack's run flags for apply, grouped as dstack's help groups them (profile, fleets, retry policy):
 * each replaces the configuration's key of the same name.
 */
export function addRunOptions(cmd: Command): Command {
  const opt = (flags: string, help: string, group: string) => new Option(flags, help).helpGroup(group);
  return cmd
    .option('-n, --name <NAME>', "the run's name (instead of the configuration's `name`)")
    .addOption(
      opt(
        '--profile <NAME>',
        'a profile of .dstack/profiles.yml or ~/.dstack/profiles.yml (default: $DSTACK_PROFILE, else the one marked `default: true`)',
        'Profile:',
      ),
    )
    .addOption(opt('--max-duration <DURATION>', 'stop the run after this long (e.g. 2h, 1d; off: never)', 'Profile:'))
    .addOption(opt('-b, --backend <NAME>', 'a backend to consider (repeatable): local, ssh, runpod, ...', 'Profile:').argParser(append))
    .addOption(opt('-r, --region <NAME>', 'a region to consider (repeatable)', 'Profile:').argParser(append))
    .addOption(opt('--instance-type <NAME>', 'an instance type to consider (repeatable)', 'Profile:').argParser(append))
    .addOption(opt('--fleet <NAME>', 'a fleet to run on (repeatable): only its hosts are considered', 'Fleets:').argParser(append))
    .addOption(
      opt(
        '-R, --reuse',
        'only existing instances (this machine, fleet hosts, idle cloud instances): never create one',
        'Fleets:',
      ).conflicts('idleDuration'),
    )
    .addOption(
      opt('--idle-duration <DURATION>', 'keep a new cloud instance this long after the run (e.g. 30m; off: until deleted)', 'Fleets:'),
    )
    .addOption(opt('--retry', 'retry the run on no capacity, interruption and error (for 1h, or as the file says)', 'Retry policy:'))
    .addOption(opt('--no-retry', 'do not retry the run', 'Retry policy:'))
    .addOption(opt('--retry-duration <DURATION>', 'retry for this long (e.g. 4h): turns retry on', 'Retry policy:'));
}

/** `--max-offers N`, `ps --last N`: a whole number of at least 1. */
export function parseCount(v: string): number {
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
