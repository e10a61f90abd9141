// dstack sync NAME [--status] [--json] [--stop]: live file sync of a run's repo, local → instance.
// The sync itself lives in the daemon (it goes on after this command exits, and after a daemon
// restart); this command turns it on, prints its state, and follows its events until Ctrl+C.
import type { Command } from 'commander';
import type { SyncStatus } from '@dstack/core/gen/daemon';
import { connect, type Daemon } from '../daemon/client';
import { DaemonError, UsageError } from '../errors';
import { printJson } from '../ui/output';
import { reconnect } from '../run/run-watch';
import { isFinished } from '../run/runs-table';
import { syncReport } from './sync-view';

const UNAVAILABLE = 14;

interface SyncOptions {
  stop?: boolean;
  status?: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('sync')
    .description('Sync local changes into a run as you save them (one-way; files changed on the instance are kept, never overwritten)')
    .argument('<name>', 'the run')
    .option('--status', 'print the sync state once, without starting it')
    .option('--json', 'print the sync state once, as JSON (it starts the sync unless --status is given too)')
    .option('--stop', 'stop syncing (the instance keeps what it has)')
    .action(async (name: string, opts: SyncOptions) => {
      if (opts.stop && opts.status) throw new UsageError('--stop and --status do not go together');
      let daemon = await connect();
      try {
        const { SyncStatus: SyncJson } = await import('@dstack/core/gen/daemon');
        const show = (s: SyncStatus) => (opts.json ? printJson(SyncJson.toJSON(s)) : process.stdout.write(syncReport(s)));
        if (opts.stop) {
          const before = await daemon.getSync(name);
          const after = await daemon.stopSync(name);
          if (opts.json) show(after);
          else
            process.stdout.write(
              before.state === 'off' ? `Sync of ${name} is not on\n` : `Sync of ${name} stopped; the instance keeps what it has\n`,
            );
          return;
        }
        const state = opts.status ? await daemon.getSync(name) : await daemon.startSync(name);
        show(state);
        if (opts.status || opts.json) return;
        daemon = await follow(daemon, name, state.state);
      } finally {
        daemon.close();
      }
    });
}

/** Prints sync events (notices, state changes) until Ctrl+C, the sync stopping, or the run ending. */
async function follow(daemon: Daemon, name: string, initial: string): Promise<Daemon> {
  const out = process.stdout;
  out.write('Following its events (Ctrl+C stops following; the sync goes on in the daemon)\n');
  const abort = new AbortController();
  const onInt = () => abort.abort();
  process.once('SIGINT', onInt);
  let last = initial;
  let done = false;
  try {
    while (!done && !abort.signal.aborted) {
      const stream = daemon.attach({ name, countAsActivity: false, logsFrom: 0, noLogs: true });
      const cancel = () => stream.cancel();
      abort.signal.addEventListener('abort', cancel);
      try {
        for await (const ev of stream) {
          const p = ev.payload;
          if (!p || done) continue;
          if (p.$case === 'notice') out.write(`${p.value}\n`);
          if (p.$case !== 'run') continue;
          const run = p.value;
          if (isFinished(run.status)) {
            out.write(`Run ${name} ${run.status}: the sync has stopped\n`);
            done = true;
          } else if (run.sync && run.sync.state !== last) {
            const s = run.sync;
            // syncing ↔ watching flips with every batch; the batch's own notice says what went.
            if (!(['syncing', 'watching'].includes(s.state) && ['syncing', 'watching'].includes(last))) {
              out.write(`Sync: ${s.state}${s.state === 'error' ? ` (${s.error})` : ''}\n`);
            }
            last = s.state;
            if (s.state === 'off') done = true;
          }
          if (done) stream.cancel();
        }
        if (!done && !abort.signal.aborted) daemon = await reconnect(daemon); // the daemon went away
      } catch (err) {
        if (done || abort.signal.aborted) break;
        if (!(err instanceof DaemonError && err.grpcCode === UNAVAILABLE)) throw err;
        daemon = await reconnect(daemon);
      } finally {
        abort.signal.removeEventListener('abort', cancel);
      }
    }
    if (abort.signal.aborted) out.write(`\nStopped following; the sync goes on (\`dstack sync ${name} --stop\` stops it)\n`);
  } finally {
    process.off('SIGINT', onInt);
  }
  return daemon;
}
