// inactivity_duration as the CLI shows it: an idle run stops by itself and `ps -a -v` says why,
// while a run with an open `ssh NAME` session keeps running.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../harness/util';
import { dstack, getRun, gitRepo, mustDstack, runName, sandbox, waitForRun } from './helpers';

const conf = (name: string) => ['type: dev-environment', `name: ${name}`, 'inactivity_duration: 1m', ''].join('\n');

describe('inactivity_duration', () => {
  it('stops an idle run, keeps one with an open SSH session, and ps -v says why', async () => {
    const sb = sandbox('idle');
    const idle = runName('idle');
    const busy = runName('busy');
    let session: ReturnType<typeof spawn> | undefined;
    try {
      const repo = await gitRepo(sb, conf(idle));
      writeFileSync(join(repo, 'busy.dstack.yml'), conf(busy));
      await mustDstack(sb, ['apply', '-f', '.dstack.yml', '-y', '-d'], { cwd: repo });
      await mustDstack(sb, ['apply', '-f', 'busy.dstack.yml', '-y', '-d'], { cwd: repo });
      // An interactive-like session that stays open: OpenSSH with a remote sleep.
      session = spawn('ssh', ['-F', join(sb.home, '.ssh', 'config'), '-o', 'BatchMode=yes', busy, 'sleep 600'], {
        env: sb.env,
        stdio: 'ignore',
      });
      await waitForRun(
        sb,
        busy,
        (r) => (r.activity?.execSessions ?? 0) + (r.activity?.shellSessions ?? 0) >= 1,
        'with an open session',
        60_000,
      );

      const ended = await waitForRun(
        sb,
        idle,
        (r) => ['terminated', 'done', 'failed'].includes(r.status),
        'stopped for inactivity',
        240_000,
      );
      expect(ended.terminationReason).toBe('inactivity_duration_exceeded');
      const stillUp = await getRun(sb, busy);
      expect(stillUp!.status).toBe('running');

      const ps = await mustDstack(sb, ['ps', '-a', '-v']);
      expect(ps.stdout).toMatch(/^ NAME +BACKEND +RESOURCES +PRICE +STATUS +SUBMITTED +ERROR$/m);
      expect(ps.stdout).toMatch(new RegExp(`^ ${idle} +local .*terminated .*inactivity_duration_exceeded`, 'm'));
      // Without -a, only the active one.
      const active = await mustDstack(sb, ['ps']);
      expect(active.stdout).toContain(busy);
      expect(active.stdout).not.toContain(idle);
      // The open session is why: it counts as activity, so no inactive time is shown.
      const verbose = await dstack(sb, ['ps', '-v']);
      expect(verbose.stdout).not.toMatch(new RegExp(`${busy}[^\\n]*\\n[^\\n]*inactive for`));
      session.kill();
      await waitFor('the session to end', () => session!.exitCode !== null || session!.signalCode !== null, { timeoutMs: 30_000 });
    } finally {
      session?.kill();
      await sb.cleanup();
    }
  });
});
