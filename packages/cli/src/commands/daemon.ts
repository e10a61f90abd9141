// dstack daemon start|stop|status|install|uninstall: the per-user daemon behind every command.
import { readFileSync, realpathSync } from 'node:fs';
import type { Command } from 'commander';
import { VERSION } from '@dstack/core/version';
import { connect, daemonScript, socketAnswers, startDaemon } from '../daemon/client';
import { UserError } from '../errors';
import { dstackHome, homeLayout } from '@dstack/core/home-layout';
import { install, uninstall } from '../daemon/daemon-service';
import { printJson } from '../ui/output';
import { formatDurationMultiunit } from '../ui/time-format';

export function register(program: Command): void {
  const daemon = program.command('daemon').description('Manage the dstack daemon (started on demand by every command)');

  daemon
    .command('start')
    .description('Start the daemon unless it is running')
    .action(async () => {
      const home = dstackHome();
      const already = await socketAnswers(homeLayout(home).socket);
      if (!already) await startDaemon(home);
      const d = await connect({ autoStart: false, checkVersion: false });
      try {
        const s = await d.status();
        process.stdout.write(
          already
            ? `The dstack daemon ${s.version} is already running (pid ${s.pid})\n`
            : `Started the dstack daemon ${s.version} (pid ${s.pid}, log ${s.logFile || homeLayout(home).log})\n`,
        );
        if (s.version !== VERSION) {
          process.stderr.write(
            `warning: it is version ${s.version} and this CLI is ${VERSION}: run \`dstack daemon stop\` and start it again\n`,
          );
        }
      } finally {
        d.close();
      }
    });

  daemon
    .command('stop')
    .description('Stop the daemon (runs keep running; the next command starts it again)')
    .action(async () => {
      const home = dstackHome();
      if (!(await socketAnswers(homeLayout(home).socket))) {
        process.stdout.write('The dstack daemon is not running\n');
        return;
      }
      const d = await connect({ autoStart: false, checkVersion: false });
      let pid = 0;
      try {
        pid = (await d.status()).pid;
        await d.shutdown();
      } finally {
        d.close();
      }
      const deadline = Date.now() + 30_000;
      while ((await socketAnswers(homeLayout(home).socket)) || alive(pid)) {
        if (Date.now() > deadline) throw new UserError(`the dstack daemon (pid ${pid}) did not stop within 30 s`);
        await new Promise((r) => setTimeout(r, 100));
      }
      process.stdout.write(`Stopped the dstack daemon (pid ${pid})\n`);
    });

  daemon
    .command('status')
    .description('Say whether the daemon runs, and its version, pid, log and active runs')
    .option('--json', 'print the status as one JSON object')
    .action(async (opts: { json?: boolean }) => {
      const home = dstackHome();
      if (!(await socketAnswers(homeLayout(home).socket))) {
        if (opts.json) printJson({ running: false, home });
        else process.stdout.write('The dstack daemon is not running (start it with `dstack daemon start`)\n');
        process.exitCode = 1;
        return;
      }
      const d = await connect({ autoStart: false, checkVersion: false });
      try {
        const s = await d.status();
        if (opts.json) {
          const { StatusResponse } = await import('@dstack/core/gen/daemon');
          printJson({ running: true, ...(StatusResponse.toJSON(s) as object) });
          return;
        }
        const rows: [string, string][] = [
          ['version', s.version + (s.version !== VERSION ? ` (this CLI is ${VERSION}: run \`dstack daemon stop\`)` : '')],
          ['pid', String(s.pid)],
          ['home', s.home || home],
          ['log', s.logFile || homeLayout(home).log],
          ['uptime', s.startedMs ? formatDurationMultiunit((Date.now() - s.startedMs) / 1000) : '-'],
          // A daemon still assembling itself answers Status with no backends (this machine's is always there after).
          ['runs', s.backends.length ? `${s.activeRuns} active` : 'starting'],
          ['backends', s.backends.join(', ') || 'starting'],
        ];
        process.stdout.write(`The dstack daemon is running\n${rows.map(([k, v]) => `  ${k.padEnd(9)} ${v}\n`).join('')}`);
      } finally {
        d.close();
      }
    });

  daemon
    .command('install')
    .description('Start the daemon on login: a systemd user unit (Linux) or a launchd agent (macOS)')
    .action(async () => {
      const home = dstackHome();
      const env: Record<string, string> = {};
      for (const k of ['PATH', 'DOCKER_HOST']) if (process.env[k]) env[k] = process.env[k]!;
      let script = daemonScript();
      try {
        script = realpathSync(script);
      } catch {
        throw new UserError(`cannot install the daemon: ${script} is missing (run \`npm run build\`)`);
      }
      // A daemon started on demand would hold the socket: stop it so the service manager's takes over.
      if (process.platform !== 'darwin' && (await socketAnswers(homeLayout(home).socket))) {
        const d = await connect({ autoStart: false, checkVersion: false });
        try {
          await d.shutdown();
        } finally {
          d.close();
        }
        const deadline = Date.now() + 30_000;
        while ((await socketAnswers(homeLayout(home).socket)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      }
      const r = install({ node: process.execPath, script, home, log: homeLayout(home).log, env });
      process.stdout.write(`${r.changed ? 'Wrote' : 'Already installed:'} ${r.file}\n${r.lines.map((l) => `${l}\n`).join('')}`);
      if (!r.ok) process.exitCode = 1;
    });

  daemon
    .command('uninstall')
    .description('Undo install: the daemon no longer starts on login')
    .action(() => {
      const r = uninstall();
      process.stdout.write(r.removed ? `Removed ${r.file}\n` : `Not installed (no ${r.file})\n`);
      for (const l of r.lines) process.stderr.write(`warning: ${l}\n`);
    });
}

function alive(pid: number): boolean {
  if (!pid) return false;
  try {
    // A zombie (an exited daemon whose parent has not reaped it yet) is not alive.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    // no /proc (macOS) or no such process
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
