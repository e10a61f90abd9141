// The README flow through the daemon's API: apply a dev environment from a git repo, reach it with
// OpenSSH (`ssh NAME` through the Include the daemon adds to ~/.ssh/config), see the repo as it is
// on disk (uncommitted and untracked files, not ignored ones), the env and init; stop it and find
// nothing left: no container, no SSH block. The same in host mode (no Docker engine answers).
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { SMALL, Sandbox, configSource, containersOf, gitRepo, runName } from './helpers';

let sb: Sandbox | undefined;
afterEach(async () => {
  await sb?.cleanup();
  sb = undefined;
});

async function readmeFlow(mode: 'docker' | 'host') {
  sb = new Sandbox(`flow-${mode}`, mode === 'host' ? { dockerHost: 'unix:///nonexistent/docker.sock' } : {});
  await sb.start();
  const repo = await gitRepo(sb.dir);
  const name = runName('flow');
  const config = configSource(
    `type: dev-environment\nname: ${name}\nide: vscode\nenv:\n  - MY_VAR=hello-env\n  - MY_SECRET\ninit:\n  - echo init-ran > init-marker.txt\n${SMALL}`,
    { callerEnv: { MY_SECRET: 's3cr3t-value', UNRELATED: 'not-kept' }, path: join(repo, '.dstack.yml') },
  );

  const plan = await sb.plan({ configuration: config, repoDir: repo });
  expect(plan.runName).toBe(name);
  expect(plan.offers[0]).toMatchObject({ backend: 'local', region: 'local', price: 0 });
  expect(plan.repoFiles).toBe(4); // .gitignore, committed, modified, untracked
  expect(plan.currentRun).toBeUndefined();

  const submitted = await sb.apply({ configuration: config, repoDir: repo });
  expect(submitted.name).toBe(name);
  // A docker run is up before its container id is known (container-id.test.ts): wait for both.
  const running = await sb.waitForRun(
    name,
    (r) => r.status === 'running' && r.sshAlias === name && (mode === 'host' || r.job?.containerId !== ''),
    'running with SSH',
  );
  expect(running.ideLink).toBe(`vscode://vscode-remote/ssh-remote+${name}${running.job?.workingDir}`);
  expect(running.configurationPath).toBe(join(repo, '.dstack.yml'));
  expect(running.configuration).toMatchObject({ name, ide: 'vscode', env: { MY_VAR: 'hello-env', MY_SECRET: '***' } });
  expect(JSON.stringify(running)).not.toContain('s3cr3t-value');
  expect(JSON.stringify(running)).not.toContain('not-kept');
  if (mode === 'docker') {
    expect(running.job?.workingDir).toBe('/workflow');
    expect(await containersOf(name)).toEqual([running.job?.containerId]);
  } else {
    expect(running.job?.containerId).toBe('');
  }
  // The Include line is in the temp HOME's ~/.ssh/config; ssh uses nothing else.
  expect(readFileSync(join(sb.home, '.ssh', 'config'), 'utf8')).toContain(`Include ${join(sb.dstackHome, 'ssh', 'config')}`);

  const wd = running.job!.workingDir;
  const files = await sb.ssh(name, `cd ${wd} && cat committed.txt modified.txt untracked.txt; ls -a`);
  expect(files.stderr).toBe('');
  expect(files.stdout).toContain('committed-content\nmodified-content\nuntracked-content\n');
  expect(files.stdout).not.toContain('ignored.txt');
  const env = await sb.ssh(name, 'echo "$MY_VAR $MY_SECRET $DSTACK_RUN_NAME"');
  expect(env.stdout.trim()).toBe(`hello-env s3cr3t-value ${name}`);
  await expect
    .poll(async () => (await sb!.ssh(name, `cat ${wd}/init-marker.txt`)).stdout.trim(), { timeout: 60_000, interval: 500 })
    .toBe('init-ran');

  // The secret is nowhere in the daemon's files in clear text.
  for (const f of ['daemon.log', 'state.db', 'state.db-wal']) {
    const p = join(sb.dstackHome, f);
    let text = '';
    try {
      text = readFileSync(p, 'latin1');
    } catch {
      continue;
    }
    expect(text, f).not.toContain('s3cr3t-value');
  }

  const stopped = await sb.stop(name);
  expect(stopped).toMatchObject({ status: 'terminated', terminationReason: 'stopped_by_user' });
  expect(await containersOf(name)).toEqual([]);
  expect(sb.hasHostBlock(name)).toBe(false);
  expect((await sb.ssh(name, 'true', 20_000)).code).not.toBe(0);

  // The run's log outlives the run and the daemon.
  expect(await sb.logText(name)).toContain('Running');
  await sb.shutdown();
  await sb.start();
  expect(await sb.logText(name)).toContain(`SSH: ssh ${name}`);
  await sb.deleteRun(name);
  expect(await sb.listRuns(true)).toEqual([]);
}

describe('dstack apply through the daemon', () => {
  it('runs a dev environment in a container, reachable with ssh NAME, and leaves nothing after stop', async () => {
    await readmeFlow('docker');
  });

  it('runs it on the host when no Docker engine answers', async () => {
    await readmeFlow('host');
  });
});
