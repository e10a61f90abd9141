// registry_auth against the harness's htpasswd registry, pull progress, and the busybox image.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { JobState, type PullProgress } from '@dstack/core/gen/agent';
import { docker } from '../harness/docker';
import { mustRun, run, tempDir } from '../harness/util';
import { startAgent, uniqueId, type AgentProcess } from './agent';

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name))
    .filter((p) => statSync(p).size < 16 << 20);
}

describe('images from a registry with htpasswd auth', () => {
  let agent: AgentProcess;
  let cleanup: () => Promise<void>;
  const reg = () => inject('registry');
  // An image with a layer of its own (3 MB of random bytes on busybox), pushed to the registry and
  // removed here: pulling it downloads that layer for real, with progress.
  let freshImage: string;

  beforeAll(async () => {
    const { address, username, password } = reg();
    freshImage = `${address}/private/fresh-${process.pid}:v1`;
    const cfg = tempDir('docker-config');
    const env = { ...process.env, DOCKER_CONFIG: cfg.path };
    const cid = (
      await docker(['run', '-d', '--network', 'host', inject('busyboxImage'), 'sh', '-c', 'head -c 3000000 /dev/urandom > /blob'])
    ).stdout.trim();
    await docker(['wait', cid]);
    await docker(['commit', cid, freshImage]);
    await docker(['rm', cid]);
    await mustRun('docker', ['-H', inject('dockerHost'), 'login', '--username', username, '--password-stdin', address], {
      env,
      input: password,
    });
    await mustRun('docker', ['-H', inject('dockerHost'), 'push', freshImage], { env, timeoutMs: 120_000 });
    await docker(['rmi', freshImage]);
    cfg.cleanup();
    ({ agent, cleanup } = await startAgent({ DOCKER_HOST: inject('dockerHost') }));
    agent.subscribe();
  });
  afterAll(async () => {
    await cleanup?.();
    // Leave the private images only in the registry, as the harness made them.
    for (const image of [reg().privateImage, freshImage]) await run('docker', ['-H', inject('dockerHost'), 'rmi', image]);
  });

  it('fails clearly with a wrong password', async () => {
    const { privateImage, username } = reg();
    const jobId = uniqueId('badpw');
    await agent.submit({ jobId, runtime: 'docker', image: privateImage, registryAuth: { username, password: 'wrong-password' } });
    const job = await agent.waitState(jobId, JobState.JOB_STATE_FAILED);
    expect(job.status!.reason).toBe('registry_auth_error');
    expect(job.status!.message).toMatch(new RegExp(`^registry auth failed for ${privateImage.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
  });

  it('pulls with the right password, reporting progress across layers', async () => {
    const { username, password } = reg();
    const jobId = uniqueId('goodpw');
    await agent.submit({ jobId, runtime: 'docker', image: freshImage, registryAuth: { username, password }, init: ['echo pulled-ok'] });
    const job = await agent.waitState(jobId, JobState.JOB_STATE_RUNNING);
    expect(await agent.logText(jobId)).toContain('pulled-ok\n');
    const pulls = agent.events.filter((e) => e.jobId === jobId && e.payload?.$case === 'pull').map((e) => e.payload!.value as PullProgress);
    const last = pulls.at(-1)!;
    expect(last.status).toBe('pulled');
    expect(last.total).toBeGreaterThan(2_000_000);
    expect(last.current).toBe(last.total);
    // The password is nowhere: not in the answer, not in any file of the data dir, not in the agent's log.
    // The user is masked too (it may come from a secret: `${{ secrets.NAME }}`).
    expect(job.spec!.registryAuth).toEqual({ username: '***', password: '' });
    for (const f of filesUnder(agent.dataDir)) expect(readFileSync(f).includes(password), f).toBe(false);
    const ps = execFileSync('ps', ['-eo', 'args']).toString();
    expect(ps.includes(password)).toBe(false);
  });

  it('says an image does not exist', async () => {
    const { address, username, password } = reg();
    const image = `${address}/private/no-such-image:v1`;
    const jobId = uniqueId('noimage');
    await agent.submit({ jobId, runtime: 'docker', image, registryAuth: { username, password } });
    const job = await agent.waitState(jobId, JobState.JOB_STATE_FAILED);
    expect(job.status).toMatchObject({ reason: 'image_pull_error', message: `image ${image} not found` });
  });
});

describe('the busybox image (nothing but /bin/sh)', () => {
  let agent: AgentProcess;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    ({ agent, cleanup } = await startAgent({ DOCKER_HOST: inject('dockerHost') }));
  });
  afterAll(async () => cleanup?.());

  it('runs init with the env, writes the profile, and stops gracefully', async () => {
    const jobId = uniqueId('busybox');
    const trap = `sh -c 'trap "echo got-term > /workflow/term; exit 0" TERM; while :; do sleep 1; done' >/dev/null 2>&1 &`;
    await agent.submit({
      jobId,
      runtime: 'docker',
      image: inject('busyboxImage'),
      env: { FOO: 'bar baz' },
      init: ['echo "foo=$FOO run=$DSTACK_RUN_NAME"', trap],
    });
    await agent.waitState(jobId, JobState.JOB_STATE_RUNNING);
    expect(await agent.logText(jobId)).toContain('foo=bar baz run=test-run\n');
    const cid = (await docker(['ps', '-q', '--filter', `label=ai.dstack.job-id=${jobId}`])).stdout.trim();
    const login = await docker(['exec', cid, 'env', '-i', '/bin/sh', '-lc', 'echo "$FOO"']);
    expect(login.stdout.trim()).toBe('bar baz');
    const stopped = await agent.stopJob(jobId, false, 20);
    expect(stopped.status!.reason).toBe('stopped');
    expect(readFileSync(join(agent.dataDir, 'jobs', jobId, 'workflow', 'term'), 'utf8')).toBe('got-term\n');
  });
});
