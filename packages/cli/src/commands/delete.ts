// dstack delete NAME [-y]: remove a finished run from the list; a run stopped with its container kept
// loses that container too (removed from its instance).
import type { Command } from 'commander';
import { connect } from '../daemon/client';
import { confirm } from '../ui/prompt';

export function register(program: Command): void {
  program
    .command('delete')
    .description("Delete a finished run (stop it first if it is active); a stopped run's kept container goes too")
    .argument('<name>', 'the run to delete')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (name: string, opts: { yes?: boolean }) => {
      const daemon = await connect();
      try {
        const run = await daemon.getRun(name);
        const kept = run.status === 'stopped' ? ' and remove its kept container' : '';
        if (!(await confirm(`Delete the run ${name}${kept}?`, { yes: opts.yes }))) {
          process.stdout.write('Exiting...\n');
          return;
        }
        await daemon.deleteRun(name);
        process.stdout.write(`Run ${name} deleted${kept ? ', its kept container removed' : ''}\n`);
      } finally {
        daemon.close();
      }
    });
}
