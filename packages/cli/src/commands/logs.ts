// dstack logs NAME [--since 10m|ISO] [-f]: the run's output, optionally followed.
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { connect } from '../daemon/client';
import { parseSince } from '../ui/time-format';

export function register(program: Command): void {
  program
    .command('logs')
    .description("Print a run's logs")
    .argument('<name>', 'the run')
    .option('--since <when>', 'only logs after this: a duration back from now (10m, 2h) or an ISO date-time', (v) => {
      try {
        return parseSince(v);
      } catch (err) {
        throw new InvalidArgumentError((err as Error).message);
      }
    })
    .option('-f, --follow', 'keep printing new logs until the run ends or Ctrl+C')
    .action(async (name: string, opts: { since?: number; follow?: boolean }) => {
      const daemon = await connect();
      const stream = daemon.getLogs({ name, sinceMs: opts.since ?? 0, follow: Boolean(opts.follow) });
      const onInt = () => stream.cancel();
      process.once('SIGINT', onInt);
      try {
        for await (const entry of stream) process.stdout.write(entry.data);
      } finally {
        process.off('SIGINT', onInt);
        daemon.close();
      }
    });
}
