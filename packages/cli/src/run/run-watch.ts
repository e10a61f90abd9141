// Following a run from the CLI (apply, attach): its status while it launches, progress bars for
// the image pull and code upload, the IDE link and SSH hint once it is up, then its logs. Survives a
// daemon restart: the stream is opened again from the last log offset.
import type { Writable } from 'node:stream';
import type { Run } from '@dstack/core/gen/daemon';
import { connect, type Daemon } from '../daemon/client';
import { DaemonError } from '../errors';
import { accessLines } from './links';
import { LiveLine, ProgressView, spinner, type Spinner } from '../ui/progress';
import { isFinished } from './runs-table';

const UNAVAILABLE = 14;

export type WatchEnd = 'up' | 'finished' | 'interrupted';

export interface WatchOptions {
  name: string;
  /** An attached CLI keeps the run from counting as inactive. */
  countAsActivity: boolean;
  /** Return as soon as the run is up (apply -d). */
  untilUp?: boolean;
  /** Print the run's logs (to stdout). */
  logs?: boolean;
  /** Human text (status, links): stdout, or stderr when stdout carries JSON. */
  out: Writable;
  /** Called once when the run is up, after the links are printed. */
  onUp?: (run: Run) => void;
  /** Aborting ends the watch with 'interrupted'. */
  signal?: AbortSignal;
}

export interface WatchResult {
  end: WatchEnd;
  run: Run | undefined;
  /** The connection in use at the end (a new one after a daemon restart). */
  daemon: Daemon;
}

export async function watchRun(daemon: Daemon, opts: WatchOptions): Promise<WatchResult> {
  // The live line (spinner, bars) on stderr when it is a terminal; plain lines go with the rest.
  const line = new LiveLine(process.stderr.isTTY ? process.stderr : opts.out);
  const progress = new ProgressView(line);
  let run: Run | undefined;
  let up = false;
  let offset = 0;
  let partial = '';
  let spin: Spinner | undefined;
  let lastStatus = '';
  let progressActive = false;

  // The run's own output (stdout, stderr) is printed; the daemon's and agent's notes (pulling,
  // uploading, starting) show in the status while launching, and in full in `dstack logs`.
  let detail = '';
  const writeLog = (stream: string, data: Buffer) => {
    if (stream === 'agent' || stream === 'daemon') {
      if (up || !run) return;
      detail = data.toString('utf8').trim().split('\n').pop() ?? '';
      showStatus(run);
      return;
    }
    if (!opts.logs) return;
    const text = partial + data.toString('utf8');
    const cut = text.lastIndexOf('\n') + 1;
    partial = text.slice(cut);
    if (cut) line.print(text.slice(0, cut), process.stdout);
  };
  const showStatus = (r: Run) => {
    if (up || isFinished(r.status)) return;
    const base = r.statusMessage && r.statusMessage !== r.status ? `${r.status}: ${r.statusMessage}` : r.status;
    if (!line.tty) {
      // Plain output: one line per status, without the notes in between.
      if (base !== lastStatus) opts.out.write(`Status: ${base}\n`);
      lastStatus = base;
      return;
    }
    const text = detail ? `${base} — ${detail}` : base;
    if (progressActive) return;
    if (!spin) spin = spinner(text, { line });
    else spin.text(text);
  };
  const stopSpinner = () => {
    spin?.stop();
    spin = undefined;
  };

  // How the watch ends, once known; the stream is then cancelled and drained (returning from
  // inside the loop would leave the call open).
  let ended: WatchEnd | undefined;
  for (;;) {
    const stream = daemon.attach({ name: opts.name, countAsActivity: opts.countAsActivity, logsFrom: offset, noLogs: !opts.logs });
    const onAbort = () => stream.cancel();
    opts.signal?.addEventListener('abort', onAbort);
    const end = (how: WatchEnd) => {
      ended = how;
      stream.cancel();
    };
    try {
      for await (const ev of stream) {
        const p = ev.payload;
        if (!p || ended) continue;
        switch (p.$case) {
          case 'run': {
            run = p.value;
            // Up means reachable: running, and its Host block written (the daemon sets the alias then).
            if (!up && run.status === 'running' && (run.sshAlias || runningWithoutAlias(run))) {
              up = true;
              stopSpinner();
              progress.finish();
              line.clear();
              opts.out.write(`\n${accessLines({ ide: ideOf(run), link: run.ideLink, sshAlias: run.sshAlias || run.name })}`);
              opts.onUp?.(run);
              if (opts.untilUp) end('up');
            } else if (isFinished(run.status)) {
              end('finished');
            } else {
              showStatus(run);
            }
            break;
          }
          case 'progress':
            // Once up, the pull and upload are history (attach replays the last one); later work
            // (the IDE server, sync) shows while it is in progress.
            if (up && (p.value.kind === 'pull' || p.value.kind === 'upload' || (p.value.total > 0 && p.value.current >= p.value.total)))
              break;
            stopSpinner();
            progress.update(p.value);
            progressActive = progress.active;
            if (!progressActive && run) showStatus(run);
            break;
          case 'log':
            if (p.value.offset + p.value.data.length > offset) {
              // Skip what a replay after reconnecting repeats.
              const skip = Math.max(0, offset - p.value.offset);
              writeLog(p.value.stream, p.value.data.subarray(skip));
              offset = p.value.offset + p.value.data.length;
            }
            break;
          case 'notice':
            line.print(`${p.value}\n`, process.stderr);
            break;
        }
      }
      if (ended) return finish(ended);
      if (opts.signal?.aborted) return finish('interrupted');
      // The stream ended without the run finishing (the daemon is shutting down): reconnect.
      daemon = await reconnect(daemon);
    } catch (err) {
      if (ended) return finish(ended);
      if (opts.signal?.aborted) return finish('interrupted');
      if (err instanceof DaemonError && err.grpcCode === UNAVAILABLE) {
        daemon = await reconnect(daemon);
        continue;
      }
      stopSpinner();
      line.clear();
      throw err;
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  function finish(end: WatchEnd): WatchResult {
    stopSpinner();
    progress.finish();
    line.clear();
    if (partial) {
      process.stdout.write(`${partial}\n`);
      partial = '';
    }
    return { end, run, daemon };
  }
}

// A daemon that could not write the SSH config still serves the run: after a while, go on without it.
const aliasWaitMs = 30_000;
const runningSince = new Map<string, number>();
function runningWithoutAlias(run: Run): boolean {
  const since = runningSince.get(run.id) ?? Date.now();
  runningSince.set(run.id, since);
  return Date.now() - since > aliasWaitMs;
}

function ideOf(run: Run): string | undefined {
  return run.configuration?.ide || undefined;
}

/** A new connection after the daemon went away; it is started again if needed. */
export async function reconnect(old: Daemon): Promise<Daemon> {
  old.close();
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      return await connect();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}
