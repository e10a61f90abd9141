// dstack fleet [-a] [-v] [--json]: the fleets and their hosts. dstack fleet delete NAME [-y]
// [--force]: stop the agents, remove what was installed on the hosts, keep the user's files; a fleet
// with runs on it is deleted only when told (--force, or yes to the question that names the runs).
import type { Command } from 'commander';
import type { Fleet } from '@dstack/core/gen/daemon';
import { connect } from '../daemon/client';
import { UserError } from '../errors';
import { followFleetEvents } from '../fleet/apply-fleet-events';
import { printJson } from '../ui/output';
import { canPrompt, confirm } from '../ui/prompt';
import { detachedWarning, fleetsTable } from '../fleet/fleet-table';

interface ListOptions {
  all?: boolean;
  verbose?: boolean;
  json?: boolean;
}

async function list(opts: ListOptions): Promise<void> {
  const daemon = await connect();
  try {
    const resp = await daemon.listFleets(Boolean(opts.all));
    if (opts.json) {
      const { ListFleetsResponse } = await import('@dstack/core/gen/daemon');
      printJson(ListFleetsResponse.toJSON(resp));
      return;
    }
    if (!resp.fleets.length) {
      process.stdout.write('No fleets: create one with `dstack apply -f fleet.dstack.yml` (type: fleet)\n');
      return;
    }
    process.stdout.write(fleetsTable(resp.fleets, { verbose: opts.verbose }));
    if (opts.verbose) process.stderr.write(detachedWarning(resp.fleets));
  } finally {
    daemon.close();
  }
}

function runsOn(fleet: Fleet): string[] {
  return fleet.instances.filter((i) => i.runName && i.status !== 'terminated').map((i) => `${i.runName} (on ${i.name})`);
}

async function remove(name: string, opts: { yes?: boolean; force?: boolean }): Promise<void> {
  const daemon = await connect();
  try {
    const fleet = await daemon.getFleet(name);
    if (fleet.status === 'terminated' || fleet.status === 'failed') {
      process.stdout.write(`Fleet ${name} is not active (${fleet.status})\n`);
      return;
    }
    const runs = runsOn(fleet);
    if (runs.length) {
      if (!opts.force && (opts.yes || !canPrompt())) {
        throw new UserError(
          `fleet ${name} has active runs: ${runs.join(', ')}: stop them first, or pass --force to stop them and delete the fleet`,
        );
      }
      process.stdout.write(`Runs on the fleet: ${runs.join(', ')}\n`);
    }
    const question = runs.length ? `Stop these runs and delete the fleet ${name}?` : `Delete the fleet ${name}?`;
    if (!(await confirm(question, { yes: opts.yes }))) {
      process.stdout.write('Exiting...\n');
      return;
    }
    const res = await followFleetEvents(daemon.deleteFleet({ name, force: runs.length > 0 }));
    if (res.interrupted) throw new UserError(`lost the fleet's delete midway: see \`dstack fleet ${name}\``);
    if (res.failures.length) {
      throw new UserError(
        `fleet ${name} deleted, but ${res.failures.length} host(s) could not be cleaned up: ${res.failures.map((f) => f.host).join(', ')}`,
      );
    }
    process.stdout.write(`Fleet ${name} deleted\n`);
  } finally {
    daemon.close();
  }
}

export function register(program: Command): void {
  const fleet = program
    .command('fleet')
    .description('List fleets (your own hosts, `type: fleet`), or delete one')
    .option('-a, --all', 'show deleted fleets too')
    .option('-v, --verbose', 'show where each host is, its run, how its agent runs, and errors')
    .option('--json', 'print the fleets as one JSON object')
    .action((opts: ListOptions) => list(opts));
  fleet
    .command('list')
    .description('List fleets (the same as `dstack fleet`)')
    .option('-a, --all', 'show deleted fleets too')
    .option('-v, --verbose', 'show where each host is, its run, how its agent runs, and errors')
    .option('--json', 'print the fleets as one JSON object')
    .action((opts: ListOptions) => list(opts));
  fleet
    .command('delete')
    .description('Delete a fleet: stop its agents and remove what dstack installed on its hosts (your files stay)')
    .argument('<name>', 'the fleet to delete')
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--force', 'stop the runs on the fleet, then delete it')
    .action((name: string, opts: { yes?: boolean; force?: boolean }) => remove(name, opts));
}
