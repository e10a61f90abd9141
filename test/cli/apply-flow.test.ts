// The README flow, end to end with real parts: `dstack apply -f .dstack.yml -y -d` in a git repo,
// then OpenSSH into the run, then `dstack stop`. Once with the test Docker engine (the job runs in a
// container of the test image), once in host mode (no engine answers: the job runs on this machine).
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { docker } from '../harness/docker';
import { dstack, getRun, gitRepo, hasHostBlock, mustDstack, runName, sandbox, ssh, waitForRun } from './helpers';

const MODES = [
  { mode: 'docker', dockerHost: undefined },
  { mode: 'host', dockerHost: 'unix:///nonexistent' },
] as const;

describe.each(MODES)('dstack apply -y -d ($mode mode)', ({ mode, dockerHost }) => {
  it('uploads the repo with uncommitted changes, sets env and init, gives `ssh NAME`, and stop ends it', async () => {
    const sb = sandbox(`readme-${mode}`, { dockerHost });
    const name = runName(mode === 'docker' ? 'readme' : 'hostmode');
    const marker = `/tmp/dstack-e2e-init-${name}`;
    try {
      const repo = await gitRepo(
        sb,
        [
          'type: dev-environment',
          `name: ${name}`,
          'env:',
          '  - MY_VAR=hello-from-config',
          '  - SHELL_SECRET',
          'init:',
          `  - echo init-ran > ${marker}`,
          'inactivity_duration: 1h',
          '',
        ].join('\n'),
      );
      const secret = `s3cr3t-${name}`;
      const apply = await dstack(sb, ['apply', '-f', '.dstack.yml', '-y', '-d'], { cwd: repo, env: { SHELL_SECRET: secret } });
      expect(apply.code, apply.stderr + apply.stdout).toBe(0);
      expect(apply.stdout).toMatch(/^ # {2}BACKEND {2}REGION +RESOURCES +SPOT +PRICE$/m);
      expect(apply.stdout).toMatch(/^ 1 {2}local +local +\d+xCPU, \d+GB, [\d.]+GB \(disk\) +no +\$0$/m);
      expect(apply.stdout).toContain(`Launching \`${name}\`...`);
      expect(apply.stdout).toContain(`To connect via SSH, use: ssh ${name}`);

      const ps = await mustDstack(sb, ['ps', '--json']);
      const runs = JSON.parse(ps.stdout).runs;
      const r = runs.find((x: { name: string }) => x.name === name);
      expect(r.status).toBe('running');
      // The secret value travels to the run but never shows in ps output.
      expect(ps.stdout).not.toContain(secret);
      const wd: string = r.job.workingDir;
      if (mode === 'docker') expect(wd).toBe('/workflow');
      expect(wd).toBeTruthy();

      // OpenSSH through ~/.ssh/config (the daemon added the Include) into the run.
      expect(readFileSync(join(sb.home, '.ssh', 'config'), 'utf8')).toContain(join(sb.dstackHome, 'ssh', 'config'));
      expect(hasHostBlock(sb, name)).toBe(true);
      const files = await ssh(
        sb,
        name,
        `cd ${wd} && cat committed.txt modified.txt untracked.txt && (test -e ignored.txt && echo ignored-present || echo ignored-absent)`,
      );
      expect(files.code, files.stderr).toBe(0);
      expect(files.stdout).toBe('committed-content\nmodified-content\nuntracked-content\nignored-absent\n');
      const env = await ssh(sb, name, 'echo "$MY_VAR"; echo "$SHELL_SECRET"');
      expect(env.stdout).toBe(`hello-from-config\n${secret}\n`);
      const init = await ssh(sb, name, `cat ${marker}`);
      expect(init.stdout).toBe('init-ran\n');
      // `apply -d` returns once the run is reachable, which may be before its container id is known
      // (container-id.test.ts); the sessions above ran in the container, so it is known by now.
      const named = await waitForRun(sb, name, (x) => mode === 'host' || !!x.job?.containerId, 'naming its container');
      const containerId: string = named.job?.containerId ?? '';
      if (mode === 'docker') expect(containerId).not.toBe('');

      const stop = await dstack(sb, ['stop', name, '-y']);
      expect(stop.code, stop.stderr).toBe(0);
      expect(stop.stdout).toMatch(new RegExp(`^Run ${name} stopped`, 'm'));
      const after = await getRun(sb, name);
      // A container is kept (stop and resume with state: test/cli/stop-resume.test.ts) until the run
      // is deleted; a host-mode job keeps nothing.
      expect(after!.status).toBe(mode === 'docker' ? 'stopped' : 'terminated');
      expect(hasHostBlock(sb, name)).toBe(false);
      if (mode === 'docker') {
        const kept = await docker(['ps', '-a', '-q', '--no-trunc', '--filter', `id=${containerId}`]);
        expect(kept.stdout.trim()).toBe(containerId);
        await mustDstack(sb, ['delete', name, '-y']);
        const left = await docker(['ps', '-a', '-q', '--no-trunc', '--filter', `id=${containerId}`]);
        expect(left.stdout.trim()).toBe('');
      }
      const gone = await ssh(sb, name, 'true', { timeoutMs: 60_000 });
      expect(gone.code).not.toBe(0);
    } finally {
      await sb.cleanup();
      if (existsSync(marker)) rmSync(marker, { force: true });
    }
  });
});
