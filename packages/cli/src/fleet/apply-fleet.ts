// `dstack apply` for `type: fleet` (SSH fleets): the plan
// (hosts to add, remove, keep, redeploy), the host keys nothing trusts yet (host-keys.ts), the
// question, then each host's progress as the daemon deploys or removes it, and the fleet table at the end. Exit 1 when any host failed: the fleet
// keeps the hosts that worked, and applying again retries the others.
import type { FleetPlan, HostKeyEntry } from '@dstack/core/gen/daemon';
import type { ApplyOptions } from '../run/apply-run';
import { followFleetEvents } from './apply-fleet-events';
import { connect } from '../daemon/client';
import { detachedWarning, fleetsTable } from './fleet-table';
import { configurationSource } from '../config/configuration';
import { UsageError, UserError } from '../errors';
import { envFlags } from '../config/env-vars';
import { acceptHostKeys } from './host-keys';
import { humanOut, printJson } from '../ui/output';
import { canPrompt, confirm } from '../ui/prompt';
import { renderTable } from '../ui/table';
import { spinner } from '../ui/progress';

const RUN_FLAGS = [
  'gpu',
  'cpu',
  'memory',
  'disk',
  'maxPrice',
  'spot',
  'onDemand',
  'spotAuto',
  'spotPolicy',
  'detach',
  'name',
  'profile',
  'backend',
  'region',
  'instanceType',
  'fleet',
  'retry',
  'retryDuration',
  'maxDuration',
  'idleDuration',
  'reuse',
] as const;

const ACTION_TEXT: Record<string, string> = { add: 'add', remove: 'remove', keep: 'keep (unchanged)', redeploy: 'redeploy' };

export function planTable(plan: FleetPlan): string {
  const rows = plan.hosts.map((h) => [
    h.host,
    h.proxyJump || '-',
    `${ACTION_TEXT[h.action] ?? h.action}${h.action === 'remove' && h.runName ? ` (stops run ${h.runName})` : ''}${h.message ? `: ${h.message}` : ''}`,
  ]);
  return renderTable(['HOST', 'PROXY JUMP', 'ACTION'], rows);
}

export async function applyFleet(file: string, text: string, opts: ApplyOptions): Promise<void> {
  const given = RUN_FLAGS.filter((f) => opts[f] !== undefined && opts[f] !== false).map(
    (f) => `--${f.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`,
  );
  if (given.length) throw new UsageError(`${given.join(', ')}: for runs, not for fleets (a fleet's hosts have the resources they have)`);
  const out = humanOut(opts.json);
  // The daemon parses the file, makes its identity files absolute (from the file's folder) and checks them.
  const configuration = configurationSource(file, text, { env: envFlags(opts) });

  const daemon = await connect();
  try {
    const spin = spinner('Getting the fleet plan...', { delayMs: 300 });
    const plan = await daemon.getFleetPlan({ configuration }).finally(() => spin.stop());
    const name = plan.fleetName;
    const exists = Boolean(plan.current);
    out.write(`\n Fleet  ${name}${exists ? ` (exists, ${plan.current!.status})` : ''}\n\n${planTable(plan)}\n`);
    const changes = plan.hosts.filter((h) => h.action !== 'keep');
    if (exists && !changes.length && !opts.force) {
      out.write(`Fleet ${name} is up to date: nothing to apply (--force deploys every host again)\n`);
      if (opts.json) printJson((await import('@dstack/core/gen/daemon')).Fleet.toJSON(plan.current!));
      return;
    }
    const busy = plan.hosts.filter((h) => h.action === 'remove' && h.runName);
    if (busy.length && !opts.force && (opts.yes || !canPrompt())) {
      throw new UserError(
        `removing ${busy.map((h) => `${h.host} stops run ${h.runName}`).join(', ')}: stop the run first, or pass --force to stop it and remove the host`,
      );
    }
    const scan = (accepted: HostKeyEntry[]) => {
      const checking = spinner('Checking host keys...', { delayMs: 300 });
      return daemon.scanHostKeys({ configuration, accepted }).finally(() => checking.stop());
    };
    const acceptedHostKeys = await acceptHostKeys(scan, { yes: opts.yes });
    const question = busy.length
      ? `Stop ${busy.map((h) => h.runName).join(', ')} and update the fleet ${name}?`
      : exists
        ? `Update the fleet ${name}?`
        : `Create the fleet ${name}?`;
    if (!(await confirm(question, { yes: opts.yes }))) {
      out.write('Exiting...\n');
      return;
    }
    if (!opts.yes) out.write('\n');
    out.write(`${exists ? 'Updating' : 'Provisioning'}...\n`);
    const abort = new AbortController();
    const onInt = () => abort.abort();
    process.once('SIGINT', onInt);
    let res;
    try {
      res = await followFleetEvents(
        daemon.applyFleet({
          configuration,
          fleetName: name,
          acceptedHostKeys,
          force: busy.length > 0,
          // --force with nothing to change: check every host again; with changes it only allows stopping runs.
          redeploy: Boolean(opts.force) && !changes.length,
        }),
        { out, hostWidth: Math.max(0, ...plan.hosts.map((h) => h.host.length)), signal: abort.signal },
      );
    } finally {
      process.off('SIGINT', onInt);
    }
    if (res.interrupted) {
      out.write(`\nDetached: the daemon goes on applying the fleet; see \`dstack fleet -v\`\n`);
      process.exitCode = 130;
      return;
    }
    if (res.fleet) {
      out.write(`\n${fleetsTable([res.fleet])}`);
      const warning = detachedWarning([res.fleet]);
      if (warning) process.stderr.write(warning);
      if (opts.json) printJson((await import('@dstack/core/gen/daemon')).Fleet.toJSON(res.fleet));
    }
    if (res.failures.length) {
      throw new UserError(`${res.summary}; apply the fleet again to retry them (\`dstack fleet -v\` says why each failed)`);
    }
  } finally {
    daemon.close();
  }
}
