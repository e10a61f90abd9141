// --json: one JSON object on stdout and nothing else there (human text goes to stderr), for
// apply -d, ps and offer; and `dstack logs -f`, which follows until the run ends.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../harness/util';
import { CLI, dstack, gitRepo, mustDstack, runName, sandbox } from './helpers';

describe('--json and logs -f', () => {
  it('prints exactly one JSON object; logs -f ends when the run does', async () => {
    const sb = sandbox('json');
    const name = runName('json');
    try {
      const repo = await gitRepo(
        sb,
        ['type: dev-environment', `name: ${name}`, 'env:', '  - TOKEN', 'init:', '  - echo ready-$((40 + 2))', ''].join('\n'),
      );
      const notDetached = await dstack(sb, ['apply', '-f', '.dstack.yml', '-y', '--json'], { cwd: repo, env: { TOKEN: 'tok-123' } });
      expect(notDetached.code).toBe(2);
      expect(notDetached.stderr).toBe('error: --json needs -d: apply prints the run as JSON once it is up\n');

      const apply = await mustDstack(sb, ['apply', '-f', '.dstack.yml', '-y', '-d', '--json'], { cwd: repo, env: { TOKEN: 'tok-123' } });
      const run = JSON.parse(apply.stdout);
      expect(run).toMatchObject({ name, status: 'running', sshAlias: name, backend: 'local' });
      expect(apply.stdout).not.toContain('tok-123');
      expect(apply.stderr).toMatch(/^ # {2}BACKEND {2}REGION/m);
      expect(apply.stderr).toContain(`To connect via SSH, use: ssh ${name}`);

      const ps = JSON.parse((await mustDstack(sb, ['ps', '--json'])).stdout);
      expect(ps.runs.map((r: { name: string }) => r.name)).toEqual([name]);
      const offer = JSON.parse((await mustDstack(sb, ['offer', '--json'])).stdout);
      expect(offer.offers[0]).toMatchObject({ backend: 'local', region: 'local' });
      const grouped = JSON.parse((await mustDstack(sb, ['offer', '--json', '--group-by', 'gpu'])).stdout);
      expect(grouped).toEqual({ group_by: ['gpu'], gpus: [] });
      const badGroup = await dstack(sb, ['offer', '--group-by', 'region']);
      expect(badGroup.code).toBe(2);

      const follow = spawn(process.execPath, [CLI, 'logs', name, '-f'], { env: sb.env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      follow.stdout.on('data', (d) => (out += d));
      const exited = new Promise<number | null>((resolve) => follow.on('exit', resolve));
      await waitFor('logs -f to print the init output', () => out.includes('ready-42'), { timeoutMs: 60_000 });
      await mustDstack(sb, ['stop', name, '-y']);
      expect(await exited).toBe(0);
    } finally {
      await sb.cleanup();
    }
  });
});
