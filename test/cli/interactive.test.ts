// `dstack apply` on a real terminal: the offers table, the [y/n] question, the IDE link and SSH
// hint, logs until Ctrl+C, which asks whether to stop the run (n: it keeps running and `ssh NAME`
// works); `ps -v` showing the inactive time; and an in-place update of inactivity_duration that
// asks `Update the run?` and keeps the same container.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../harness/util';
import { Terminal } from './pty';
import { dstack, getRun, gitRepo, runName, sandbox, ssh, waitForRun } from './helpers';

const config = (name: string, inactivity: string) =>
  [
    'type: dev-environment',
    `name: ${name}`,
    'ide: vscode',
    'init:',
    '  - echo hello-from-init',
    `inactivity_duration: ${inactivity}`,
    '',
  ].join('\n');

describe('dstack apply on a terminal', () => {
  it('plans, asks, links, streams logs, asks on Ctrl+C; ps -v shows inactivity; in-place update keeps the container', async () => {
    const sb = sandbox('pty');
    const name = runName('pty');
    const terms: Terminal[] = [];
    try {
      const repo = await gitRepo(sb, config(name, '10m'));
      // Ctrl+C at the question: exit 130, nothing created.
      const c = new Terminal(sb, ['apply', '-f', '.dstack.yml'], { cwd: repo });
      terms.push(c);
      await c.expect(`Submit the run ${name}? [y/n]: `);
      c.interrupt();
      expect((await c.exited).exitCode).toBe(130);
      expect(c.text).toMatch(/^error: interrupted$/m);
      expect(await getRun(sb, name)).toBeUndefined();

      const t = new Terminal(sb, ['apply', '-f', '.dstack.yml'], { cwd: repo });
      terms.push(t);
      await t.expect(/ # {2}BACKEND {2}REGION +RESOURCES +SPOT +PRICE\n 1 {2}local +local +\d+xCPU, \d+GB, [\d.]+GB \(disk\) +no +\$0\n/);
      await t.expect(`Submit the run ${name}? [y/n]: `);
      // No `code` command here: one line says how to fix it, and apply goes on.
      expect(t.text).toMatch(/^warning: could not read the local VS Code version \(`code --version`.*set `version:`/m);
      t.write('y\r');
      await t.expect(`Launching \`${name}\`...`);
      await t.expect(`To open in VS Code Desktop, use this link:\n  vscode://vscode-remote/ssh-remote+${name}/workflow\n`);
      await t.expect(`To connect via SSH, use: ssh ${name}`);
      await t.expect('hello-from-init');
      // While the CLI is attached it counts as activity.
      const attached = await waitForRun(sb, name, (r) => (r.activity?.attachedClis ?? 0) >= 1, 'attached');
      expect(attached.status).toBe('running');

      const mark = t.text.length;
      t.interrupt();
      await t.expect(`Stop the run ${name} before detaching? [y/n]: `, { from: mark });
      t.write('n\r');
      await t.expect('Detached', { from: mark });
      expect((await t.exited).exitCode).toBe(0);
      expect((await getRun(sb, name))!.status).toBe('running');
      const still = await ssh(sb, name, 'echo still-here');
      expect(still.stdout).toBe('still-here\n');

      // Nobody connected now: ps -v shows for how long, under the status.
      const verbose = await waitFor(
        'ps -v to show the inactive time',
        async () => {
          const res = await dstack(sb, ['ps', '-v']);
          return /^ NAME +BACKEND +RESOURCES +PRICE +STATUS +SUBMITTED$/m.test(res.stdout) &&
            new RegExp(`^ ${name} +local +.*running`, 'm').test(res.stdout) &&
            /^ +.*\(inactive for (\d+m )?\d+s\)$/m.test(res.stdout)
            ? res.stdout
            : undefined;
        },
        { timeoutMs: 120_000, intervalMs: 2000 },
      );
      expect(verbose).toMatch(/\d+ sec ago|now|1 min ago|\d+ mins ago/);

      // In-place update: only inactivity_duration changes.
      const before = (await getRun(sb, name))!.job!.containerId;
      expect(before).toBeTruthy();
      writeFileSync(join(repo, '.dstack.yml'), config(name, '20m'));
      const u = new Terminal(sb, ['apply', '-f', '.dstack.yml'], { cwd: repo });
      terms.push(u);
      await u.expect("Detected configuration changes that can be updated in-place: ['inactivity_duration']\n");
      await u.expect('Update the run? [y/n]: ');
      u.write('y\r');
      await u.expect(`To connect via SSH, use: ssh ${name}`);
      const updated = (await getRun(sb, name))!;
      expect(updated.status).toBe('running');
      expect(updated.job!.containerId).toBe(before);
      expect(Number(updated.configuration?.inactivityDuration)).toBe(1200);

      // Ctrl+C again, and this time stop it.
      const mark2 = u.text.length;
      u.interrupt();
      await u.expect(`Stop the run ${name} before detaching? [y/n]: `, { from: mark2 });
      u.write('y\r');
      await u.expect('Stopped', { from: mark2 });
      expect((await u.exited).exitCode).toBe(0);
      expect(['terminated', 'done']).toContain((await getRun(sb, name))!.status);
    } finally {
      for (const t of terms) t.kill();
      await sb.cleanup();
    }
  });
});
