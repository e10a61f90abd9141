// registry_auth from apply's side: the password comes from the CLI's environment through
// `${{ env.NAME }}`, reaches the pull, and never shows in ps, logs or apply's output; a wrong one
// fails the run with one line, exit 1.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { docker } from '../harness/docker';
import { dstack, mustDstack, privateImageConfig, runName, sandbox } from './helpers';

describe('registry_auth', () => {
  it('pulls a private image with the password from the environment and never prints it', async () => {
    const reg = inject('registry');
    const sb = sandbox('registry');
    const good = runName('private');
    const bad = runName('wrongpw');
    const conf = (name: string) => privateImageConfig(name, reg);
    try {
      // The image must come from the registry, not from the engine's cache.
      await docker(['rmi', '-f', reg.privateImage]).catch(() => undefined);
      // A folder of its own: the sandbox's folder also holds DSTACK_HOME, which is no code to upload.
      const proj = join(sb.dir, 'proj');
      mkdirSync(proj);
      writeFileSync(join(proj, 'good.dstack.yml'), conf(good));
      writeFileSync(join(proj, 'bad.dstack.yml'), conf(bad));
      const apply = await mustDstack(sb, ['apply', '-f', 'good.dstack.yml', '-y', '-d'], {
        cwd: proj,
        env: { REG_PASSWORD: reg.password },
      });
      expect(apply.stdout + apply.stderr).not.toContain(reg.password);
      for (const args of [
        ['ps', '-a', '--json'],
        ['ps', '-a', '-v'],
        ['logs', good],
      ]) {
        const res = await mustDstack(sb, args);
        expect(res.stdout, args.join(' ')).not.toContain(reg.password);
      }
      expect(JSON.parse((await mustDstack(sb, ['ps', '--json'])).stdout).runs[0].status).toBe('running');

      await docker(['rmi', '-f', reg.privateImage]).catch(() => undefined);
      const wrong = await dstack(sb, ['apply', '-f', 'bad.dstack.yml', '-y', '-d'], {
        cwd: proj,
        env: { REG_PASSWORD: 'not-the-password' },
      });
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toMatch(new RegExp(`^error: run ${bad} failed: \\S+`, 'm'));
      expect(wrong.stderr).not.toContain('not-the-password');

      const missing = await dstack(sb, ['apply', '-f', 'bad.dstack.yml', '-y', '-d'], { cwd: proj, env: { REG_PASSWORD: undefined } });
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(/^bad\.dstack\.yml:\d+:\d+: .*REG_PASSWORD/m);
    } finally {
      await sb.cleanup();
    }
  });
});
