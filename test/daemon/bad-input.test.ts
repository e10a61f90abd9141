// Bad input never leaves half-made state: an invalid configuration, a missing env value, a repo over
// the size cap and a spec no offer fits are refused before anything is created (no run, no
// container); an unknown image fails the run with the agent's reason and leaves nothing running.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { status as Status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../harness/util';
import { SMALL, Sandbox, configSource, containersOf, gitRepo, runName } from './helpers';

let sb: Sandbox;
beforeAll(async () => {
  sb = new Sandbox('bad', { config: 'repo_size_limit: 1MB\n' });
  await sb.start();
});
afterAll(async () => {
  await sb?.cleanup();
});

async function nothingCreated(name: string) {
  expect((await sb.listRuns(true)).filter((r) => r.name === name)).toEqual([]);
  expect(await containersOf(name)).toEqual([]);
}

describe('bad input', () => {
  it('refuses a configuration that is not valid, each problem at FILE:LINE:COL', async () => {
    const name = runName('badcfg');
    const bad = configSource(`type: dev-environment\nname: ${name}\nide: notepad\nresources:\n  memory: 8GB..4GB\n`, {
      path: 'dev.dstack.yml',
    });
    await expect(sb.apply({ configuration: bad, noRepo: true })).rejects.toMatchObject({
      code: Status.INVALID_ARGUMENT,
      details: expect.stringMatching(/^the configuration has errors:\ndev\.dstack\.yml:3:6: .*\ndev\.dstack\.yml:5:11: /),
    });
    await expect(sb.plan({ configuration: configSource('{not: [yaml', { path: 'x.yml' }), noRepo: true })).rejects.toMatchObject({
      code: Status.INVALID_ARGUMENT,
      details: expect.stringMatching(/^the configuration has errors:\nx\.yml:\d+:\d+: YAML syntax error/),
    });
    const fleet = configSource('type: fleet\nname: f1\nnodes: 1\n');
    await expect(sb.apply({ configuration: fleet })).rejects.toMatchObject({
      code: Status.INVALID_ARGUMENT,
      details: expect.stringContaining('ApplyFleet'),
    });
    await nothingCreated(name);
  });

  it('refuses an env entry with no value', async () => {
    const name = runName('noenv');
    const cfg = configSource(`type: dev-environment\nname: ${name}\nenv:\n  - HF_TOKEN\n${SMALL}`);
    await expect(sb.apply({ configuration: cfg, noRepo: true })).rejects.toMatchObject({
      code: Status.INVALID_ARGUMENT,
      details: 'no value for env HF_TOKEN: set it in your environment or an --env-file (or pass -e NAME=VALUE, which ps shows)',
    });
    await nothingCreated(name);
  });

  it('refuses a repo over repo_size_limit before anything is created, naming the largest paths', async () => {
    const name = runName('bigrepo');
    const repo = await gitRepo(sb.dir);
    writeFileSync(join(repo, 'weights.bin'), Buffer.alloc(2 * 1024 * 1024, 1));
    const cfg = configSource(`type: dev-environment\nname: ${name}\n${SMALL}`);
    const err = {
      code: Status.FAILED_PRECONDITION,
      details: expect.stringMatching(/over the 1\.0MB limit .*largest: weights\.bin \(2\.0MB\)/),
    };
    await expect(sb.plan({ configuration: cfg, repoDir: repo })).rejects.toMatchObject(err);
    await expect(sb.apply({ configuration: cfg, repoDir: repo })).rejects.toMatchObject(err);
    await nothingCreated(name);
  });

  it('refuses a spec no offer fits when there is no retry, saying why', async () => {
    const name = runName('nogpu');
    const cfg = configSource(`type: dev-environment\nname: ${name}\nresources:\n  gpu: 24GB\n  disk: 1GB..\n  memory: 1GB..\n`);
    const plan = await sb.plan({ configuration: cfg, noRepo: true });
    expect(plan.offers).toEqual([]);
    expect(plan.noOfferReasons.join('\n')).toMatch(/^local.*GPU/m);
    await expect(sb.apply({ configuration: cfg, noRepo: true })).rejects.toMatchObject({
      code: Status.FAILED_PRECONDITION,
      details: expect.stringMatching(/^no offer fits the run .*: local.*GPU/),
    });
    await nothingCreated(name);
  });

  it('fails a run whose image does not exist, with the reason, and leaves nothing running', async () => {
    const name = runName('noimage');
    const cfg = configSource(`type: dev-environment\nname: ${name}\nimage: dstack-test/no-such-image:v0\n${SMALL}`);
    await sb.apply({ configuration: cfg, noRepo: true });
    const failed = await sb.waitForRun(name, (r) => r.status === 'failed', 'failed', 120_000);
    expect(failed.terminationReason).toBe('creating_container_error');
    expect(failed.statusMessage).toContain('no-such-image');
    expect(await containersOf(name)).toEqual([]);
    expect(sb.hasHostBlock(name)).toBe(false);
    expect(await sb.logText(name)).toContain('no-such-image');
  });

  it('warns with the exact line when ~/.ssh/config cannot be changed, and SSH works with our file', async () => {
    const userConfig = join(sb.home, '.ssh', 'config');
    mkdirSync(join(sb.home, '.ssh'), { recursive: true });
    writeFileSync(userConfig, 'Host example\n  User me\n');
    execFileSync('chattr', ['+i', userConfig]); // not even root may write it now
    try {
      const name = runName('noinclude');
      await sb.apply({ configuration: configSource(`type: dev-environment\nname: ${name}\n${SMALL}`), noRepo: true });
      await sb.waitForRun(name, (r) => r.status === 'running' && r.sshAlias === name, 'running');
      const ours = join(sb.dstackHome, 'ssh', 'config');
      const warning = `warning: could not add dstack's Include line to ${userConfig} (EPERM): add this line at its top yourself: Include ${ours}`;
      expect(await sb.logText(name)).toContain(warning);
      expect(sb.daemonLog()).toContain(warning);
      expect(readFileSync(userConfig, 'utf8')).toBe('Host example\n  User me\n');
      const ssh = await run('ssh', ['-F', ours, '-o', 'BatchMode=yes', name, 'echo via-our-file'], { timeoutMs: 60_000 });
      expect(ssh.stdout.trim()).toBe('via-our-file');
      await sb.stop(name);
    } finally {
      execFileSync('chattr', ['-i', userConfig]);
    }
  });

  it('answers NOT_FOUND for an unknown fleet and for the sync of an unknown run', async () => {
    type Err = { code: number; details: string } | null;
    const call = (fn: unknown) =>
      new Promise<Err>((resolve) =>
        (fn as (req: object, cb: (err: Err) => void) => unknown).call(sb.client, { name: 'x', all: false }, (err: Err) => resolve(err)),
      );
    expect(await call(sb.client.getFleet)).toMatchObject({
      code: Status.NOT_FOUND,
      details: expect.stringContaining('no fleet named "x"'),
    });
    expect(await call(sb.client.getSync)).toMatchObject({ code: Status.NOT_FOUND, details: expect.stringContaining('no run named "x"') });
  });
});
