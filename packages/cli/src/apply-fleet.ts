// `dstack apply` for `type: fleet` (SSH fleets): identity files made absolute and checked, the plan
// (hosts to add, remove, keep, redeploy), the host keys nothing trusts yet (host-keys.ts), the
// question, then each host's progress as the daemon deploys or removes it, and the fleet table at the end. Exit 1 when any host failed: the fleet
// keeps the hosts that worked, and applying again retries the others.
import { accessSync, constants } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { FleetConfiguration, SshProxyJump } from '@dstack/core/config/types';
import type { FleetPlan, HostKeyEntry } from '@dstack/core/gen/daemon';
import type { ApplyOptions } from './apply-run';
import { followFleetEvents } from './apply-fleet-events';
import { connect } from './client';
import { detachedWarning, fleetsTable } from './commands/fleet-table';
import { configurationJson } from './configuration';
import { UsageError, UserError } from './errors';
import { envFlags, resolveEnv } from './env-vars';
import { acceptHostKeys } from './host-keys';
import { humanOut, printJson } from './output';
import { canPrompt, confirm } from './prompt';
import { renderTable } from './table';
import { spinner } from './progress';

const RUN_FLAGS = ['gpu', 'cpu', 'memory', 'disk', 'maxPrice', 'spot', 'onDemand', 'spotAuto', 'detach'] as const;

/** `~/key` and `key` (next to the fleet file) as absolute paths, each checked readable. */
export function resolveIdentityFiles(file: string, config: FleetConfiguration, home = homedir()): FleetConfiguration {
  const base = dirname(resolve(file));
  const abs = (path: string, field: string): string => {
    const p = path === '~' ? home : path.startsWith('~/') ? join(home, path.slice(2)) : isAbsolute(path) ? path : resolve(base, path);
    try {
      accessSync(p, constants.R_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new UserError(`${file}: ${field}: cannot read ${path}${p !== path ? ` (${p})` : ''}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code}`);
    }
    return p;
  };
  const jump = (j: SshProxyJump | null, field: string): SshProxyJump | null => (j ? { ...j, identity_file: abs(j.identity_file, `${field}.identity_file`) } : null);
  const ssh = config.ssh_config;
  if (!ssh) return config;
  return {
    ...config,
    ssh_config: {
      ...ssh,
      identity_file: ssh.identity_file && abs(ssh.identity_file, 'ssh_config.identity_file'),
      proxy_jump: jump(ssh.proxy_jump, 'ssh_config.proxy_jump'),
      hosts: ssh.hosts.map((h, i) => ({
        ...h,
        identity_file: h.identity_file && abs(h.identity_file, `ssh_config.hosts[${i}].identity_file`),
        proxy_jump: jump(h.proxy_jump, `ssh_config.hosts[${i}].proxy_jump`),
      })),
    },
  };
}

const ACTION_TEXT: Record<string, string> = { add: 'add', remove: 'remove', keep: 'keep (unchanged)', redeploy: 'redeploy' };

export function planTable(plan: FleetPlan): string {
  const rows = plan.hosts.map((h) => [
    h.host,
    h.proxyJump || '-',
    `${ACTION_TEXT[h.action] ?? h.action}${h.action === 'remove' && h.runName ? ` (stops run ${h.runName})` : ''}${h.message ? `: ${h.message}` : ''}`,
  ]);
  return renderTable(['HOST', 'PROXY JUMP', 'ACTION'], rows);
}

export async function applyFleet(file: string, fileConfig: FleetConfiguration, opts: ApplyOptions): Promise<void> {
  const given = RUN_FLAGS.filter((f) => opts[f] !== undefined && opts[f] !== false).map((f) => `--${f.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
  if (given.length) throw new UsageError(`${given.join(', ')}: for runs, not for fleets (a fleet's hosts have the resources they have)`);
  if (!fileConfig.ssh_config) throw new UserError(`${file}: cloud fleets (\`nodes\`) need a cloud backend, and dstack-ts has none yet: list your own hosts under \`ssh_config\``);
  const out = humanOut(opts.json);
  let config = resolveIdentityFiles(file, fileConfig);
  const { env, secretEnv } = resolveEnv(config.env, envFlags(opts));
  config = { ...config, env };

  const daemon = await connect();
  try {
    const spin = spinner('Getting the fleet plan...', { delayMs: 300 });
    const plan = await daemon.getFleetPlan(await configurationJson(config)).finally(() => spin.stop());
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
    const json = await configurationJson({ ...config, name });
    const scan = (accepted: HostKeyEntry[]) => {
      const checking = spinner('Checking host keys...', { delayMs: 300 });
      return daemon.scanHostKeys({ configurationJson: json, accepted }).finally(() => checking.stop());
    };
    const acceptedHostKeys = await acceptHostKeys(scan, { yes: opts.yes });
    const question = busy.length ? `Stop ${busy.map((h) => h.runName).join(', ')} and update the fleet ${name}?` : exists ? `Update the fleet ${name}?` : `Create the fleet ${name}?`;
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
          configurationJson: json,
          configurationPath: resolve(file),
          acceptedHostKeys,
          secretEnv,
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
