// registry_auth: the password travels in the configuration file's text (as the CLI sends it), is sealed at
// rest, masked in every Run the daemon returns, and reaches only the agent's pull. A wrong one fails
// the run with the registry's answer and leaves nothing running.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Sandbox, configSource, containersOf, runName } from './helpers';

let sb: Sandbox;
beforeAll(async () => {
  sb = new Sandbox('registry');
  await sb.start();
});
afterAll(async () => {
  await sb?.cleanup();
});

const reg = inject('registry');
const cfg = (name: string, password: string) =>
  configSource(
    `type: dev-environment\nname: ${name}\nimage: ${reg.privateImage}\nregistry_auth:\n  username: ${reg.username}\n  password: ${password}\n` +
      'resources:\n  cpu: 1..\n  memory: 1GB..\n  disk: 1GB..\n',
  );

describe('private registry', () => {
  // First, while the image is not on the engine yet: the pull itself must be refused.
  it('fails the run on a wrong password, with the reason', async () => {
    const name = runName('wrongpw');
    await sb.apply({ configuration: cfg(name, 'not-the-password'), noRepo: true });
    const failed = await sb.waitForRun(name, (r) => r.status === 'failed', 'failed', 180_000);
    expect(failed.terminationReason).toBe('creating_container_error');
    expect(failed.statusMessage).not.toBe('');
    expect(failed.statusMessage).not.toContain('not-the-password');
    expect(await containersOf(name)).toEqual([]);
  });

  it('pulls with the sealed password, which shows nowhere', async () => {
    const name = runName('private');
    await sb.apply({ configuration: cfg(name, reg.password), noRepo: true });
    const run = await sb.waitForRun(name, (r) => r.status === 'running' && r.sshAlias === name, 'running', 180_000);
    expect(run.configuration?.image).toBe(reg.privateImage);
    expect((await sb.ssh(name, 'echo from-busybox')).stdout.trim()).toBe('from-busybox');
    for (const r of await sb.listRuns(true)) expect(JSON.stringify(r)).not.toContain(reg.password);
    for (const f of ['daemon.log', 'state.db', 'state.db-wal']) {
      let text = '';
      try {
        text = readFileSync(join(sb.dstackHome, f), 'latin1');
      } catch {
        continue;
      }
      expect(text, f).not.toContain(reg.password);
    }
    await sb.stop(name);
    expect(await containersOf(name)).toEqual([]);
  });
});
