// The CLI follows a run across a daemon restart: kill -9 the daemon while `dstack apply` is
// attached; the next call starts a new daemon and the logs go on from where they were, once each.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Terminal } from './pty';
import { getRun, gitRepo, mustDstack, runName, sandbox } from './helpers';

describe('dstack apply across a daemon restart', () => {
  it('keeps streaming the logs after kill -9 of the daemon, once each; Ctrl+C then detaches', async () => {
    const sb = sandbox('restart');
    const name = runName('restart');
    let t: Terminal | undefined;
    try {
      const repo = await gitRepo(
        sb,
        ['type: dev-environment', `name: ${name}`, 'init:', '  - for i in $(seq 1 40); do echo tick-$i; sleep 1; done', ''].join('\n'),
      );
      t = new Terminal(sb, ['apply', '-f', '.dstack.yml', '-y'], { cwd: repo });
      await t.expect(`To connect via SSH, use: ssh ${name}`);
      await t.expect('tick-3\n');
      const pid = JSON.parse((await mustDstack(sb, ['daemon', 'status', '--json'])).stdout).pid as number;
      process.kill(pid, 'SIGKILL');
      // The CLI reconnects (starting a new daemon) and goes on.
      await t.expect('tick-20\n', { timeoutMs: 120_000 });
      const newPid = JSON.parse((await mustDstack(sb, ['daemon', 'status', '--json'])).stdout).pid as number;
      expect(newPid).not.toBe(pid);
      // Every line once: a replay after reconnecting does not repeat what was printed.
      for (const n of [1, 5, 10, 15]) expect(t.text.split(`tick-${n}\n`).length - 1, `tick-${n}`).toBe(1);
      expect((await getRun(sb, name))!.status).toBe('running');

      // -y: Ctrl+C detaches without asking; the run keeps going.
      t.interrupt();
      await t.expect('Detached');
      expect((await t.exited).exitCode).toBe(0);
      expect((await getRun(sb, name))!.status).toBe('running');
      expect(readFileSync(`/proc/${newPid}/cmdline`, 'utf8')).toContain('daemon.cjs');
    } finally {
      t?.kill();
      await sb.cleanup();
    }
  });
});
