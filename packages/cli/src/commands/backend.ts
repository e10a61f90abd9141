// dstack backend list|add|remove: the GPU clouds in $DSTACK_HOME/config.yml (`backends:`). add asks
// for the key without echo (or reads it from stdin), has the daemon check it with the provider, and
// only then saves it, sealed.
import type { Command } from 'commander';
import type { BackendInfo } from '@dstack/core/gen/daemon';
import { CLOUD_TYPES } from '@dstack/core/cloud-types';
import { collectList } from '../config/overrides';
import { connect } from '../daemon/client';
import { UsageError } from '../errors';
import { printJson } from '../ui/output';
import { readSecret } from '../ui/prompt';
import { renderTable } from '../ui/table';

const TYPES: readonly string[] = CLOUD_TYPES;

function backendsTable(rows: BackendInfo[]): string {
  return renderTable(
    ['BACKEND', 'REGIONS', 'STATUS', 'INSTANCES', 'PRICE'],
    rows.map((b) => [
      b.type,
      b.regions.length ? b.regions.join(', ') : 'all',
      b.status === 'error'
        ? `error: ${b.message}`
        : b.status === 'ok'
          ? `ok${b.keyInClear ? ' (key in clear in config.yml)' : ''}`
          : b.status,
      b.instances,
      b.instances ? `$${b.pricePerHour.toFixed(4).replace(/0+$/, '').replace(/\.$/, '')}/h` : '-',
    ]),
  );
}

export function register(program: Command): void {
  const cmd = program.command('backend').description('Configure GPU clouds (backends: in $DSTACK_HOME/config.yml)');
  cmd
    .command('list', { isDefault: true })
    .description('The configured backends, each checked with its provider')
    .option('--no-check', 'do not ask the providers whether the keys work')
    .option('--json', 'print one JSON object')
    .action(async (opts: { check: boolean; json?: boolean }) => {
      const daemon = await connect();
      try {
        const res = await daemon.listBackends(opts.check);
        if (opts.json) {
          const { ListBackendsResponse } = await import('@dstack/core/gen/daemon');
          printJson(ListBackendsResponse.toJSON(res));
        } else if (!res.backends.length) {
          process.stdout.write('No backends configured (this machine and SSH fleets need none). Add one: dstack backend add lambda\n');
        } else {
          process.stdout.write(backendsTable(res.backends));
          // A cluster backend (kubernetes, slurm) says what its nodes have free now, under the table.
          for (const b of res.backends) if (b.status === 'ok' && b.message) process.stdout.write(`${b.message}\n`);
        }
        if (res.backends.some((b) => b.status === 'error')) process.exitCode = 1;
      } finally {
        daemon.close();
      }
    });
  cmd
    .command('add')
    .description('Add (or replace) a backend: the key is checked with the provider, then saved sealed')
    .argument('<type>', `the provider: ${TYPES.join(', ')}`)
    .option('-r, --region <REGION>', 'only these regions (repeat or comma-separate; default all)', collectList, [])
    .option('--api-url <URL>', "the provider's API at another address (a proxy)")
    .option('--ssh-user <USER>', "the login user of the provider's image (default: the provider's own)")
    .option('--agent-url <URL>', 'instances download the agent from here ({arch}: x64, arm64; sha256-checked) instead of receiving it')
    .option('--json', 'print the backend as one JSON object')
    .action(async (type: string, opts: { region: string[]; apiUrl?: string; sshUser?: string; agentUrl?: string; json?: boolean }) => {
      if (!TYPES.includes(type))
        throw new UsageError(`backend type ${JSON.stringify(type)} is not supported (supported: ${TYPES.join(', ')})`);
      const apiKey = await readSecret(`${type} API key`);
      if (!apiKey) throw new UsageError(`no ${type} API key given (type it, or pipe it on stdin)`);
      const daemon = await connect();
      try {
        const info = await daemon.addBackend({
          type,
          apiKey,
          regions: opts.region,
          apiUrl: opts.apiUrl ?? '',
          sshUser: opts.sshUser ?? '',
          agentUrl: opts.agentUrl ?? '',
        });
        if (opts.json) {
          const { BackendInfo } = await import('@dstack/core/gen/daemon');
          printJson(BackendInfo.toJSON(info));
        } else process.stdout.write(`Backend ${type} added: the key works; it is saved sealed in config.yml\n`);
      } finally {
        daemon.close();
      }
    });
  cmd
    .command('remove')
    .description('Remove a backend (refused while a run is on it)')
    .argument('<type>', 'the backend to remove')
    .action(async (type: string) => {
      const daemon = await connect();
      try {
        await daemon.removeBackend(type);
        process.stdout.write(`Backend ${type} removed\n`);
      } finally {
        daemon.close();
      }
    });
}
