// dstack delete NAME [-y]: remove a finished run from the list.
import type { Command } from 'commander';
import { connect } from '../daemon/client';
import { confirm } from '../ui/prompt';

export function register(program: Command): void {
  program
    .command('delete')
    .description('Delete a finished run (stop it first if it is active)')
    .argument('<name>', 'the run to delete')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (name: string, opts: { yes?: boolean }) => {
      const daemon = await connect();
      try {
        await daemon.getRun(name);
        if (!(await confirm(`Delete the run ${name}?`, { yes: opts.yes }))) {
          process.stdout.write('Exiting...\n');
          return;
        }
        await daemon.deleteRun(name);
        process.stdout.write(`Run ${name} deleted\n`);
      } finally {
        daemon.close();
      }
    });
}
