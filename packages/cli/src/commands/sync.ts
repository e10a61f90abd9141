// dstack sync NAME [--status] [--json] [--stop]: live file sync of a run's repo, local → instance.
// The sync itself lives in the daemon (it goes on after this command exits, and after a daemon
// restart); this command turns it on, prints its state, and follows its events until Ctrl+C.
// dstack sync NAME --pull [--json]: once, instance → local: files changed under /workflow come home,
// a file changed here too stays as it is (the instance's version beside it as PATH.remote-conflict).
// Exit 0 when every change on the instance is now here too; 1 when some did not come home as it is
// there (kept aside as a conflict, or skipped: a link, a path through a local link), so a script notices.
import type { Command } from 'commander';
import type { PullSyncResponse, SyncStatus } from '@dstack/core/gen/daemon';
import { connect, type Daemon } from '../daemon/client';
import { DaemonError, EXIT_FAILURE, UsageError } from '../errors';
import { printJson } from '../ui/output';
import { reconnect } from '../run/run-watch';
import { isFinished } from '../run/runs-table';
import { syncReport } from './sync-view';

const UNAVAILABLE = 14;

interface SyncOptions {
  stop?: boolean;
  status?: boolean;
  json?: boolean;
  pull?: boolean;
}

/** What a pull did, for a person. */
export function pullReport(name: string, r: PullSyncResponse): string {
  const lines: string[] = [];
  const total = r.pulled.length + r.conflicts.length + r.skipped.length;
  if (!total)
    lines.push(
      `Nothing to pull from ${name}: ${r.unchanged ? 'what changed on the instance is here already' : 'no file changed on the instance'}`,
    );
  else lines.push(`Pulled from ${name} into ${r.repoDir}:`);
  for (const p of r.pulled) lines.push(`  ${p.action.padEnd(9)} ${p.path}`);
  for (const c of r.conflicts) lines.push(`  conflict  ${c.path}: changed here too, kept as is; the instance's version is ${c.keptAs}`);
  for (const s of r.skipped) lines.push(`  skipped   ${s.path}: ${s.reason}`);
  if (total && r.unchanged) lines.push(`  (${r.unchanged} already the same here)`);
  return `${lines.join('\n')}\n`;
}

export function register(program: Command): void {
  program
    .command('sync')
    .description('Sync local changes into a run as you save them (one-way; files changed on the instance are kept, never overwritten)')
    .argument('<name>', 'the run')
    .option('--status', 'print the sync state once, without starting it')
    .option('--json', 'print the sync state once, as JSON (it starts the sync unless --status is given too)')
    .option('--stop', 'stop syncing (the instance keeps what it has)')
    .option('--pull', 'once, the other way: bring files changed on the instance home, never overwriting a local change')
    .action(async (name: string, opts: SyncOptions) => {
      if (opts.stop && opts.status) throw new UsageError('--stop and --status do not go together');
      if (opts.pull && (opts.stop || opts.status)) throw new UsageError(`--pull does not go with ${opts.stop ? '--stop' : '--status'}`);
      let daemon = await connect();
      try {
        if (opts.pull) {
          const res = await daemon.pullSync(name);
          if (opts.json) {
            const { PullSyncResponse: PullJson } = await import('@dstack/core/gen/daemon');
            printJson(PullJson.toJSON(res));
          } else process.stdout.write(pullReport(name, res));
          if (res.conflicts.length || res.skipped.length) process.exitCode = EXIT_FAILURE;
          return;
        }
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
