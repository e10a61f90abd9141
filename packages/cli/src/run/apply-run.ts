// `dstack apply` for `type: dev-environment`: overrides and env, the plan and its offers, the
// question, then the run followed until it is up (with -d) or until Ctrl+C, which asks whether to
// stop it before detaching.
import type { Plan, Run } from '@dstack/core/gen/daemon';
import { isFinished } from '@dstack/core/runs/status';
import { forwardPorts } from '../commands/attach';
import { connect } from '../daemon/client';
import { configurationSource } from '../config/configuration';
import { UsageError, UserError } from '../errors';
import { envFlags } from '../config/env-vars';
import { localIdeVersion } from './ide-version';
import { offersTable } from './offers-table';
import { humanOut, printJson } from '../ui/output';
import { overridesOf, type RunFlags } from '../config/overrides';
import { profilesFor } from '../config/profiles';
import { canPrompt, confirm } from '../ui/prompt';
import { repoDirFor } from './repo';
import { reportEnd } from './run-end';
import { waitUntilFinished } from './run-wait';
import { watchRun } from './run-watch';
import { spinner } from '../ui/progress';
import { trace } from '../trace';
import type { Forwarder } from './port-forward';

export interface ApplyOptions extends RunFlags {
  file: string;
  yes?: boolean;
  detach?: boolean;
  force?: boolean;
  env?: string[];
  /** --env-file FILE (repeatable): Docker's env file format, values are secrets. */
  envFile?: string[];
  /** false with --no-repo */
  repo?: boolean;
  json?: boolean;
  maxOffers?: number;
  /** --sync: live file sync once the run is up. */
  sync?: boolean;
  /** --profile NAME (else $DSTACK_PROFILE). */
  profile?: string;
}

/** `['inactivity_duration']`, as dstack (Python) prints a list. */
export function pyList(items: readonly string[]): string {
  return `[${items.map((i) => `'${i}'`).join(', ')}]`;
}

export type Decision =
  | { action: 'submit'; question: string; notice?: string }
  | { action: 'update'; question: string; notice: string }
  | { action: 'override'; question: string; notice: string }
  | { action: 'unchanged'; question: string; notice: string };

/** What applying this plan means for a run of the same name, and what to ask. */
export function decide(plan: Plan, name: string): Decision {
  const current = plan.currentRun;
  // Stopped with its container kept: the same configuration resumes it; another starts it fresh.
  if (current?.status === 'stopped') {
    if (!plan.changedFields.length || plan.inPlace)
      return {
        action: 'submit',
        question: `Resume the run ${name}?`,
        notice: `Run ${name} is stopped with its container kept: it resumes in it, on ${current.kept?.instanceName || current.backend}.`,
      };
    return {
      action: 'override',
      question: 'Discard its kept container and start the run fresh?',
      notice: `Run ${name} is stopped with its container kept. Detected configuration changes that need a new container: ${pyList(plan.changedFields)}`,
    };
  }
  if (!current || isFinished(current.status)) return { action: 'submit', question: `Submit the run ${name}?` };
  if (!plan.changedFields.length) {
    return {
      action: 'unchanged',
      question: 'Stop and override the run?',
      notice: `Active run ${name} already exists. Detected no changes.`,
    };
  }
  if (plan.inPlace) {
    return {
      action: 'update',
      question: 'Update the run?',
      notice: `Detected configuration changes that can be updated in-place: ${pyList(plan.changedFields)}`,
    };
  }
  return {
    action: 'override',
    question: 'Stop and override the run?',
    notice: `Active run ${name} already exists. Detected configuration changes that cannot be updated in-place: ${pyList(plan.changedFields)}`,
  };
}

export async function applyDevEnvironment(file: string, text: string, opts: ApplyOptions): Promise<void> {
  if (opts.json && !opts.detach) throw new UsageError('--json needs -d: apply prints the run as JSON once it is up');
  const out = humanOut(opts.json);

  // The flags and env files are checked before the daemon is asked anything; the daemon parses the file.
  const noRepo = opts.repo === false;
  if (opts.sync && noRepo) throw new UsageError('--sync needs the repo: drop --no-repo');
  if (opts.profile === '') throw new UsageError('--profile "": expected a profile name');
  const overrides = overridesOf(opts);
  const profiles = profilesFor(repoDirFor(file), opts.profile);
  const request = {
    configuration: configurationSource(file, text, { overrides, env: envFlags(opts), profiles }),
    repoDir: noRepo ? '' : repoDirFor(file),
    noRepo,
  };

  trace('configuration ready');
  let daemon = await connect();
  trace('connected to the daemon');
  let forwards: Forwarder | undefined;
  try {
    const spin = spinner('Getting apply plan...', { delayMs: 300 });
    const plan = await daemon.getPlan({ ...request, maxOffers: opts.maxOffers ?? 3 }).finally(() => spin.stop());
    const name = plan.runName;
    trace('plan received');
    for (const w of plan.warnings) process.stderr.write(`warning: ${w}\n`);
    const ideVersion = localIdeCommit(plan);
    if (!plan.offers.length) {
      const reasons = plan.noOfferReasons.length ? `: ${plan.noOfferReasons.join('; ')}` : '';
      throw new UserError(`no offers fit the configuration${reasons}`);
    }
    out.write(`\n${offersTable(plan.offers, plan.totalOffers)}\n`);
    for (const line of plan.backendErrors) out.write(`Left out: ${line}\n`);

    const decision = decide(plan, name);
    if (decision.notice) out.write(`${decision.notice}\n`);
    if (decision.action === 'unchanged' && opts.yes && !opts.force) {
      out.write('Use --force to apply anyway.\n');
      return;
    }
    const yes = await confirm(decision.question, { yes: opts.yes });
    if (!opts.yes) out.write('\n');
    if (!yes) {
      out.write('Exiting...\n');
      return;
    }

    const run = await daemon.applyRun({
      ...request,
      runName: name,
      override: decision.action === 'override' || decision.action === 'unchanged',
      updateInPlace: decision.action === 'update',
      ideVersion,
      sync: Boolean(opts.sync),
    });
    trace('run submitted');
    if (decision.action === 'update') out.write(`Run ${name} updated\n`);
    else out.write(`Launching \`${run.name}\`...\n`);

    const abort = new AbortController();
    const onInt = () => abort.abort();
    process.once('SIGINT', onInt);
    let result;
    try {
      result = await watchRun(daemon, {
        name: run.name,
        countAsActivity: true,
        untilUp: opts.detach,
        logs: !opts.detach,
        out,
        signal: abort.signal,
        onUp: (up: Run) => {
          if (opts.sync) out.write(`Live sync is on: \`dstack sync ${up.name}\` shows it, \`dstack sync ${up.name} --stop\` stops it\n`);
          if (!opts.detach) forwards = forwardPorts(up, daemon.home);
        },
      });
    } finally {
      process.off('SIGINT', onInt);
    }
    daemon = result.daemon;
    trace(`run ${result.end}`);
    if (result.end === 'up') {
      if (opts.json) {
        const { Run: RunJson } = await import('@dstack/core/gen/daemon');
        printJson(RunJson.toJSON(result.run!));
      }
      return;
    }
    if (result.end === 'finished') {
      reportEnd(result.run!, out);
      return;
    }
    // Ctrl+C: stop the run, or leave it running (ssh NAME keeps working).
    forwards?.stop();
    if (opts.yes || !canPrompt()) {
      out.write('\nDetached\n');
      if (!opts.yes) process.exitCode = 130;
      return;
    }
    process.stderr.write('\n');
    let stop: boolean;
    try {
      stop = await confirm(`Stop the run ${run.name} before detaching?`);
    } catch (err) {
      out.write('Detached\n');
      throw err;
    }
    if (!stop) {
      out.write('Detached\n');
      return;
    }
    await daemon.stopRun(run.name, false);
    await waitUntilFinished(daemon, run.name);
    out.write('Stopped\n');
  } finally {
    forwards?.stop();
    daemon.close();
  }
}

/** The local IDE's commit when the configuration names an IDE and no version (for the server pre-install). */
function localIdeCommit(plan: Plan): string {
  const c = plan.configuration;
  if (!c?.ide || c.version) return '';
  const v = localIdeVersion(c.ide);
  if (v && 'commit' in v) return v.commit;
  if (v) process.stderr.write(`warning: ${v.problem}\n`);
  return '';
}
