// dstack start NAME: a run stopped with its container kept (`dstack stop` on this machine or a fleet
// host) starts again in that container, on the same instance, with what it installed; local edits
// made since go up as live sync sends them (the instance's own edits stay). Waits until `ssh NAME`
// works, as `dstack apply -d` does. Beyond dstack, which has no start.
import type { Command } from 'commander';
import { connect } from '../daemon/client';
import { reportEnd } from '../run/run-end';
import { watchRun } from '../run/run-watch';

export function register(program: Command): void {
  program
    .command('start')
    .description('Start a stopped run again in its kept container (what it installed is still there)')
    .argument('<name>', 'the run, stopped with `dstack stop`')
    .action(async (name: string) => {
      let daemon = await connect();
      try {
        const run = await daemon.startRun(name);
        process.stdout.write(`Resuming \`${run.name}\` in its kept container...\n`);
        const result = await watchRun(daemon, { name: run.name, countAsActivity: false, untilUp: true, logs: false, out: process.stdout });
        daemon = result.daemon;
        if (result.end === 'finished') reportEnd(result.run!, process.stdout);
      } finally {
        daemon.close();
      }
    });
}
