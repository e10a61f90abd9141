// dstack stop NAME [-x] [-y]: stop a run and wait until it has ended. A graceful stop keeps the
// run's container on this machine or a fleet host (status `stopped`: `dstack start` resumes it) and
// lists the files changed under /workflow on the instance; -x aborts (dstack's meaning) and ends the
// run for good, its container removed, also that of a run already stopped.
import type { Command } from 'commander';
import type { Run } from '@dstack/core/gen/daemon';
import { formatBytes } from '@dstack/core/bytes';
import { connect } from '../daemon/client';
import { confirm } from '../ui/prompt';
import { waitUntilFinished } from '../run/run-wait';
import { isFinished, runError } from '../run/runs-table';

/** Files listed after a stop; the rest are counted. */
const SHOWN_CHANGES = 20;

/** What a stopped run keeps, and the files changed on the instance, with what to do next. */
export function keptReport(run: Run): string {
  const k = run.kept;
  if (!k) return '';
  const size = k.sizeBytes ? `${formatBytes(k.sizeBytes)} of its own, ` : '';
  const lines = [
    `Its container is kept on ${k.instanceName || run.backend} (${size}${k.cost}): \`dstack start ${run.name}\` resumes it with what it installed; \`dstack delete ${run.name}\` removes it.`,
  ];
  if (k.remoteChangesTotal) {
    lines.push(`Changed on the instance under /workflow since the last upload or sync (${k.remoteChangesTotal}):`);
    for (const c of k.remoteChanges.slice(0, SHOWN_CHANGES)) lines.push(`  ${c.change.padEnd(9)} ${c.path}`);
    if (k.remoteChangesTotal > SHOWN_CHANGES) lines.push(`  ... and ${k.remoteChangesTotal - SHOWN_CHANGES} more`);
    lines.push(
      `Bring them home with \`dstack sync ${run.name} --pull\` (a file you changed here too is kept beside it, never overwritten).`,
    );
  }
  return `${lines.join('\n')}\n`;
}

export function register(program: Command): void {
  program
    .command('stop')
    .description('Stop a run and wait until it has ended (on this machine and fleet hosts its container is kept for `dstack start`)')
    .argument('<name>', 'the run to stop')
    .option('-x, --abort', 'abort: kill the job at once and end the run for good (its container removed, also a kept one)')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (name: string, opts: { abort?: boolean; yes?: boolean }) => {
      const daemon = await connect();
      try {
        const current = await daemon.getRun(name); // a clear "not found" before asking anything
        const keptOnly = current.status === 'stopped';
        if (keptOnly && !opts.abort) {
          process.stdout.write(`Run ${name} is stopped already. ${keptReport(current)}`);
          return;
        }
        if (isFinished(current.status) && !keptOnly) {
          process.stdout.write(`Run ${name} is not active (${current.status})\n`);
          return;
        }
        const question = keptOnly ? `Remove the kept container of run ${name}?` : `${opts.abort ? 'Abort' : 'Stop'} the run ${name}?`;
        if (!(await confirm(question, { yes: opts.yes }))) {
          process.stdout.write('Exiting...\n');
          return;
        }
        await daemon.stopRun(name, Boolean(opts.abort), !opts.abort);
        const run = await waitUntilFinished(daemon, name, { text: opts.abort ? 'Aborting...' : 'Stopping...' });
        const why = runError(run);
        if (keptOnly) {
          process.stdout.write(`Run ${name} ended for good: its kept container is removed\n`);
          return;
        }
        process.stdout.write(`Run ${name} ${opts.abort ? 'aborted' : 'stopped'}${why ? ` (${why})` : ''}\n`);
        process.stdout.write(keptReport(run));
      } finally {
        daemon.close();
      }
    });
}
