// dstack stop NAME [-x] [-y]: stop a run (gracefully, or abort) and wait until it has ended.
import type { Command } from 'commander';
import { connect } from '../daemon/client';
import { confirm } from '../ui/prompt';
import { waitUntilFinished } from '../run/run-wait';
import { isFinished, runError } from '../run/runs-table';

export function register(program: Command): void {
  program
    .command('stop')
    .description('Stop a run and wait until it has ended')
    .argument('<name>', 'the run to stop')
    .option('-x, --abort', 'abort: kill the job at once instead of stopping it gracefully')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (name: string, opts: { abort?: boolean; yes?: boolean }) => {
      const daemon = await connect();
      try {
        const current = await daemon.getRun(name); // a clear "not found" before asking anything
        if (isFinished(current.status)) {
          process.stdout.write(`Run ${name} is not active (${current.status})\n`);
          return;
        }
        if (!(await confirm(`Stop the run ${name}?`, { yes: opts.yes }))) {
          process.stdout.write('Exiting...\n');
          return;
        }
        await daemon.stopRun(name, Boolean(opts.abort));
        const run = await waitUntilFinished(daemon, name, { text: opts.abort ? 'Aborting...' : 'Stopping...' });
        const why = runError(run);
        process.stdout.write(`Run ${name} ${opts.abort ? 'aborted' : 'stopped'}${why ? ` (${why})` : ''}\n`);
      } finally {
        daemon.close();
      }
    });
}
