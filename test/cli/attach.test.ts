// dstack attach: the SSH hint, logs, local forwards of the configuration's ports through OpenSSH
// (a server in the run answers on localhost), and the attached CLI counted as activity; Ctrl+C
// detaches and the forward goes away. dstack logs prints what init wrote.
import { spawn } from 'node:child_process';
import { get } from 'node:http';
import { describe, expect, it } from 'vitest';
import { freePort, waitFor } from '../harness/util';
import { CLI, dstack, gitRepo, mustDstack, runName, sandbox, ssh, waitForRun } from './helpers';

function httpGet(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path: '/', timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
  });
}

describe('dstack attach and logs', () => {
  it('forwards ports, counts as activity, prints logs; Ctrl+C detaches', async () => {
    const sb = sandbox('attach');
    const name = runName('attach');
    const [local, remote] = [await freePort(), await freePort()];
    try {
      const repo = await gitRepo(
        sb,
        ['type: dev-environment', `name: ${name}`, 'ports:', `  - "${local}:${remote}"`, 'init:', '  - echo hello-from-init', ''].join(
          '\n',
        ),
      );
      await mustDstack(sb, ['apply', '-f', '.dstack.yml', '-y', '-d'], { cwd: repo });
      // A server inside the run, left running after the SSH command ends.
      const serve = await ssh(
        sb,
        name,
        `cd /workflow && setsid nohup python3 -m http.server ${remote} --bind 127.0.0.1 >/dev/null 2>&1 < /dev/null & echo started`,
      );
      expect(serve.stdout).toContain('started');

      const logs = await mustDstack(sb, ['logs', name]);
      expect(logs.stdout).toContain('hello-from-init');
      const future = await mustDstack(sb, ['logs', name, '--since', '2999-01-01T00:00:00Z']);
      expect(future.stdout).not.toContain('hello-from-init');
      const badSince = await dstack(sb, ['logs', name, '--since', 'yesterday-ish']);
      expect(badSince.code).toBe(2);

      const child = spawn(process.execPath, [CLI, 'attach', name], { env: sb.env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      try {
        await waitFor(
          'attach to print the SSH hint and forward the port',
          () => out.includes(`To connect via SSH, use: ssh ${name}`) && out.includes(`localhost:${local} → ${remote}`),
          {
            timeoutMs: 120_000,
          },
        );
        // The run's logs stream after the hint, on their own call: on a busy machine they come later.
        await waitFor('attach to print the run log', () => out.includes('hello-from-init'), { timeoutMs: 60_000 });
        const page = await waitFor('the forwarded port to answer', () => httpGet(local).catch(() => undefined), {
          timeoutMs: 60_000,
          intervalMs: 500,
        });
        expect(page.status).toBe(200);
        expect(page.body).toContain('committed.txt');
        await waitForRun(sb, name, (r) => (r.activity?.attachedClis ?? 0) >= 1, 'counted as attached');
      } finally {
        child.kill('SIGINT');
      }
      expect(await exited).toBe(0);
      expect(out).toContain('Detached');
      await waitFor(
        'the forward to close',
        () =>
          httpGet(local).then(
            () => false,
            () => true,
          ),
        { timeoutMs: 30_000 },
      );
      await waitForRun(sb, name, (r) => (r.activity?.attachedClis ?? 0) === 0, 'no longer attached');

      const missing = await dstack(sb, ['attach', 'no-such-run']);
      expect(missing.code).toBe(1);
      expect(missing.stderr.trim().split('\n')).toHaveLength(1);
      expect(missing.stderr).toMatch(/^error: .*no-such-run/);
    } finally {
      await sb.cleanup();
    }
  });
});
