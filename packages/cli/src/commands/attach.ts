// dstack attach NAME: follow a run: status, IDE link, SSH hint, logs, and local forwards of its
// ports. While attached, the run counts as active. Ctrl+C detaches; the run keeps going.
import type { Command } from 'commander';
import type { Run } from '@dstack/core/gen/daemon';
import { connect } from '../daemon/client';
import { UserError } from '../errors';
import { homeLayout } from '@dstack/core/home-layout';
import { portMappings, startForwards, type Forwarder } from '../run/port-forward';
import { reportEnd } from '../run/run-end';
import { watchRun } from '../run/run-watch';
import { isFinished } from '../run/runs-table';

export function register(program: Command): void {
  program
    .command('attach')
    .description('Attach to a run: its IDE link, SSH, port forwards and logs (Ctrl+C detaches)')
    .argument('<name>', 'the run to attach to')
    .option('--no-logs', 'do not print the logs')
    .action(async (name: string, opts: { logs: boolean }) => {
      let daemon = await connect();
      const current = await daemon.getRun(name).catch((err) => {
        daemon.close();
        throw err;
      });
      if (isFinished(current.status)) {
        daemon.close();
        throw new UserError(`run ${name} has ended (${current.status}): apply its configuration again to start it`);
      }
      const abort = new AbortController();
      const onInt = () => abort.abort();
      process.once('SIGINT', onInt);
      let forwards: Forwarder | undefined;
      try {
        const result = await watchRun(daemon, {
          name,
          countAsActivity: true,
          logs: opts.logs,
          out: process.stdout,
          signal: abort.signal,
          onUp: (run) => {
            forwards = forwardPorts(run, daemon.home);
          },
        });
        daemon = result.daemon;
        if (result.end === 'interrupted') {
          process.stdout.write('\nDetached\n');
          return;
        }
        if (result.run) reportEnd(result.run, process.stdout);
      } finally {
        process.off('SIGINT', onInt);
        forwards?.stop();
        daemon.close();
      }
    });
}

/** Forwards the run's configured ports and says where they are. */
export function forwardPorts(run: Run, home: string): Forwarder | undefined {
  const ports = portMappings(run.configuration?.ports ?? []);
  const fwd = startForwards(run.sshAlias || run.name, ports, homeLayout(home).sshConfig);
  if (!fwd) return undefined;
  process.stdout.write(`Forwarded ports: ${ports.map((p) => `localhost:${p.local} → ${p.remote}`).join(', ')}\n`);
  void fwd.exited.then((why) => {
    if (why) process.stderr.write(`warning: port forwarding stopped: ${why}\n`);
  });
  return fwd;
}
