// dstack attach NAME: follow a run: status, IDE link, SSH hint, logs, and local forwards of its
// ports (and of -p's, bound to --host, with --ssh-identity's key). While attached, the run counts as
// active. Ctrl+C detaches; the run keeps going.
import { statSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import type { Run } from '@dstack/core/gen/daemon';
import { connect } from '../daemon/client';
import { UsageError, UserError, whyUnreadable } from '../errors';
import { homeLayout } from '@dstack/core/home-layout';
import {
  localEnd,
  mergePorts,
  parseBindHost,
  parsePortFlag,
  portMappings,
  startForwards,
  type ForwardOptions,
  type Forwarder,
  type PortMapping,
} from '../run/port-forward';
import { reportEnd } from '../run/run-end';
import { watchRun } from '../run/run-watch';
import { isFinished } from '../run/runs-table';

export function register(program: Command): void {
  program
    .command('attach')
    .description('Attach to a run: its IDE link, SSH, port forwards and logs (Ctrl+C detaches)')
    .argument('<name>', 'the run to attach to')
    .option('--no-logs', 'do not print the logs')
    .option(
      '-p, --port <[LOCAL:]REMOTE>',
      'forward REMOTE to LOCAL too (repeatable); replaces the local port of a configured one',
      (v: string, prev: PortMapping[] = []) => [...prev, argument(() => parsePortFlag(v))],
    )
    .option('--host <HOST>', 'the local address the forwards listen on (default localhost; 0.0.0.0: every one)', (v: string) =>
      argument(() => parseBindHost(v)),
    )
    .option('--ssh-identity <PATH>', "a private key for the forwards, tried before the daemon's own")
    .action(async (name: string, opts: AttachOptions) => {
      const forwarding = forwardOptions(opts);
      let daemon = await connect();
      const current = await daemon.getRun(name).catch((err) => {
        daemon.close();
        throw err;
      });
      if (isFinished(current.status)) {
        daemon.close();
        throw new UserError(`run ${name} has ended (${current.status}): apply its configuration again to start it`);
      }
      try {
        mergePorts(portMappings(current.configuration?.ports ?? []), forwarding.extra);
      } catch (err) {
        daemon.close();
        throw new UsageError(`-p: ${(err as Error).message}`);
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
            forwards = forwardPorts(run, daemon.home, forwarding);
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

interface AttachOptions {
  logs: boolean;
  port?: PortMapping[];
  host?: string;
  sshIdentity?: string;
}

/** A flag value's parser for commander: its error becomes commander's "argument ... is invalid" (exit 2). */
function argument<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/** -p, --host and --ssh-identity, checked before the daemon is asked anything. */
function forwardOptions(opts: AttachOptions): ForwardOptions & { extra: PortMapping[] } {
  const extra = opts.port ?? [];
  try {
    mergePorts([], extra);
  } catch (err) {
    throw new UsageError(`-p: ${(err as Error).message}`);
  }
  if (opts.sshIdentity !== undefined) {
    let why: string | undefined;
    try {
      if (!statSync(opts.sshIdentity).isFile()) why = 'not a file';
    } catch (err) {
      why = whyUnreadable(err);
    }
    if (why) throw new UsageError(`--ssh-identity ${JSON.stringify(opts.sshIdentity)}: ${why}`);
  }
  return { extra, bindHost: opts.host, identityFile: opts.sshIdentity };
}

/** Forwards the run's configured ports (and `extra`, attach's -p) and says where they are. */
export function forwardPorts(run: Run, home: string, opts: ForwardOptions & { extra?: PortMapping[] } = {}): Forwarder | undefined {
  let ports: PortMapping[];
  try {
    ports = mergePorts(portMappings(run.configuration?.ports ?? []), opts.extra ?? []);
  } catch (err) {
    process.stderr.write(`warning: no port forwarding: -p: ${(err as Error).message}\n`);
    return undefined;
  }
  const fwd = startForwards(run.sshAlias || run.name, ports, homeLayout(home).sshConfig, opts);
  if (!fwd) return undefined;
  process.stdout.write(`Forwarded ports: ${ports.map((p) => `${localEnd(p.local, opts.bindHost)} → ${p.remote}`).join(', ')}\n`);
  void fwd.exited.then((why) => {
    if (why) process.stderr.write(`warning: port forwarding stopped: ${why}\n`);
  });
  return fwd;
}
