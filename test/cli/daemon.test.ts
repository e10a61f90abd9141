// dstack daemon start|stop|status|install|uninstall, and the daemon started on demand by any
// command that needs it.
import { existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { waitFor } from '../harness/util';
import { CLI, dstack, mustDstack, ROOT, runName, sandbox, ssh } from './helpers';

/** No such process, or only a zombie left for its (reparented) parent to reap. */
function gone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

describe('dstack daemon', () => {
  it('start, status, stop; any command starts it on demand', async () => {
    const sb = sandbox('daemon');
    try {
      const sock = join(sb.dstackHome, 'daemon.sock');
      const down = await dstack(sb, ['daemon', 'status']);
      expect(down.code).toBe(1);
      expect(down.stdout).toContain('The dstack daemon is not running');

      const start = await mustDstack(sb, ['daemon', 'start']);
      expect(start.stdout).toMatch(/^Started the dstack daemon \S+ \(pid \d+, log .+\)$/m);
      expect(statSync(sock).mode & 0o777).toBe(0o600);
      const again = await mustDstack(sb, ['daemon', 'start']);
      expect(again.stdout).toMatch(/already running \(pid \d+\)/);

      const status = await mustDstack(sb, ['daemon', 'status', '--json']);
      const s = JSON.parse(status.stdout);
      expect(s).toMatchObject({ running: true });
      expect(s.pid).toBeGreaterThan(0);
      const human = await mustDstack(sb, ['daemon', 'status']);
      expect(human.stdout).toContain('The dstack daemon is running');
      expect(human.stdout).toContain(`  pid       ${s.pid}`);

      const stop = await mustDstack(sb, ['daemon', 'stop']);
      expect(stop.stdout).toBe(`Stopped the dstack daemon (pid ${s.pid})\n`);
      expect(gone(s.pid)).toBe(true);
      expect((await dstack(sb, ['daemon', 'stop'])).stdout).toBe('The dstack daemon is not running\n');

      // On demand: ps starts it.
      const ps = await mustDstack(sb, ['ps']);
      expect(ps.stdout).toBe(' NAME  BACKEND  RESOURCES  PRICE  STATUS  SUBMITTED\n');
      expect((await mustDstack(sb, ['daemon', 'status', '--json'])).stdout).toContain('"running": true');

      // ps -w redraws until Ctrl+C, which ends it with 0.
      const watch = spawn(process.execPath, [CLI, 'ps', '-w'], { env: sb.env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      watch.stdout.on('data', (d) => (out += d));
      const exited = new Promise<number | null>((resolve) => watch.on('exit', resolve));
      await waitFor('ps -w to draw twice', () => out.split(' NAME  BACKEND').length > 2, { timeoutMs: 30_000 });
      watch.kill('SIGINT');
      expect(await exited).toBe(0);
    } finally {
      await sb.cleanup();
    }
  });

  it("daemon stop takes this machine's agent along when no run needs it, and leaves it while one does", async () => {
    const sb = sandbox('idle-agent', { dockerHost: 'unix:///nonexistent/docker.sock' });
    const agentPid = () => Number(readFileSync(join(sb.dstackHome, 'local/agent/agent.pid'), 'utf8').trim());
    try {
      // offer asks the agent for host info: that deploys and starts it.
      await mustDstack(sb, ['offer']);
      const idle = agentPid();
      expect(gone(idle)).toBe(false);
      await mustDstack(sb, ['daemon', 'stop']);
      await waitFor('the idle agent to exit', () => gone(idle), { timeoutMs: 30_000 });

      // With a run on it, the agent (and the run) outlive the daemon.
      const repo = join(sb.dir, 'norepo');
      mkdirSync(repo);
      const name = runName('idle');
      writeFileSync(join(repo, '.dstack.yml'), `type: dev-environment\nname: ${name}\nresources: {cpu: 1.., memory: 1GB.., disk: 1GB..}\n`);
      await mustDstack(sb, ['apply', '-f', join(repo, '.dstack.yml'), '-y', '-d', '--no-repo']);
      const busy = agentPid();
      await mustDstack(sb, ['daemon', 'stop']);
      expect(gone(busy)).toBe(false);
      const out = await ssh(sb, name, 'echo still-here');
      expect(out.stdout).toContain('still-here');
    } finally {
      await sb.cleanup();
    }
  });

  it('install writes a systemd user unit (idempotently) and uninstall removes it', async () => {
    const sb = sandbox('install');
    try {
      const xdg = join(sb.dir, 'xdg');
      // A PATH without systemctl: install says how to enable the unit instead.
      const bin = join(sb.dir, 'onlysh');
      mkdirSync(bin);
      symlinkSync('/bin/sh', join(bin, 'sh'));
      const env = { XDG_CONFIG_HOME: xdg, PATH: bin };
      await mustDstack(sb, ['daemon', 'start']);
      const first = await mustDstack(sb, ['daemon', 'install'], { env });
      const unit = join(xdg, 'systemd', 'user', 'dstack-daemon.service');
      expect(first.stdout).toBe(
        `Wrote ${unit}\nsystemctl is not available here: enable it in a systemd login session with \`systemctl --user daemon-reload && systemctl --user enable --now dstack-daemon.service\`\n`,
      );
      const text = readFileSync(unit, 'utf8');
      expect(text).toContain(`ExecStart=${process.execPath} ${join(ROOT, 'dist', 'daemon.cjs')}\n`);
      expect(text).toContain(`Environment=DSTACK_HOME=${sb.dstackHome}\n`);
      // The on-demand daemon was stopped so the service manager's can take the socket.
      expect((await dstack(sb, ['daemon', 'status'], { env })).code).toBe(1);

      const second = await mustDstack(sb, ['daemon', 'install'], { env });
      expect(second.stdout.split('\n')[0]).toBe(`Already installed: ${unit}`);
      expect(readFileSync(unit, 'utf8')).toBe(text);

      expect((await mustDstack(sb, ['daemon', 'uninstall'], { env })).stdout).toBe(`Removed ${unit}\n`);
      expect(existsSync(unit)).toBe(false);
      expect((await mustDstack(sb, ['daemon', 'uninstall'], { env })).stdout).toBe(`Not installed (no ${unit})\n`);
    } finally {
      await sb.cleanup();
    }
  });
});
