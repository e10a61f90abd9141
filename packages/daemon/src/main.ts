// Entry of the daemon process (dist/daemon.cjs). The CLI starts it detached when the socket does not
// answer; it runs in the foreground until SIGTERM/SIGINT or the Shutdown rpc. Runs outlive it: they
// belong to the agents. Exit codes: 0 stopped, 1 failed to start, 3 another daemon owns this home.
import { VERSION } from '@dstack/core/version';
import { ConfigError } from './config';
import { startEarly } from './start';
import { AlreadyRunningError } from './lock';
import { dstackHome } from '@dstack/core/home-layout';

const USAGE = `dstack daemon ${VERSION}: runs dstack's runs for one user; the dstack CLI talks to it on
$DSTACK_HOME/daemon.sock (DSTACK_HOME defaults to ~/.dstack). Started by the CLI when needed.

Usage: node daemon.cjs [--help] [--version]

Environment:
  DSTACK_HOME        where the daemon keeps everything (socket, state.db, daemon.log, ssh/, runs/)
  DSTACK_AGENT_DIR   folder with dstack-agent-linux-{x64,arm64} (default: dist/agent next to daemon.cjs)
  DOCKER_HOST        the Docker engine the local agent uses (passed on to it)`;

/**
 * The rest of the daemon, its heaviest parts (each with its npm packages) one at a time, the event
 * loop free in between: loading is most of a start's CPU, and calls that come meanwhile (Status)
 * are answered between the steps rather than after all of them.
 */
async function loadInSteps(): Promise<typeof import('./daemon')> {
  const steps = [
    () => import('@dstack/core/config/index'),
    () => import('@dstack/backends/ssh-fleet/index'),
    () => import('./sync/watcher'),
    () => import('./state/db'),
  ];
  for (const step of steps) {
    await step();
    // A call takes a few turns of the loop (accept, read, the handler, write): a few turns each time.
    for (let turn = 0; turn < 4; turn++) await new Promise((r) => setImmediate(r));
  }
  return import('./daemon');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (args.includes('--version')) {
    process.stdout.write(`dstack-daemon ${VERSION}\n`);
    return;
  }
  if (args.length) {
    process.stderr.write(`dstack daemon: unknown argument ${args[0]} (see --help)\n`);
    process.exitCode = 2;
    return;
  }
  // Everything we create (socket, keys, state) is ours alone.
  process.umask(0o077);
  let daemon;
  try {
    // The socket first, with as little loaded as can serve it; the rest after, while Status answers.
    const early = await startEarly(dstackHome());
    const { startDaemon } = await loadInSteps();
    daemon = await startDaemon({ early, env: process.env });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`dstack daemon: ${message}\n`);
    process.exitCode = err instanceof AlreadyRunningError ? 3 : 1;
    if (!(err instanceof AlreadyRunningError) && !(err instanceof ConfigError)) process.stderr.write(`${(err as Error).stack ?? ''}\n`);
    return;
  }
  const onSignal = (sig: string) => {
    daemon.log.info(`${sig} received`);
    void daemon.stop();
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGHUP', () => daemon.log.info('SIGHUP ignored'));
  process.on('unhandledRejection', (err) =>
    daemon.log.error('unhandled rejection', { error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
  );
  process.on('uncaughtException', (err) => {
    daemon.log.error('uncaught exception: exiting (runs keep going; the next start reconciles them)', { error: err.stack ?? err.message });
    process.exit(1);
  });
  await daemon.stopped;
  process.exit(0);
}

void main();
