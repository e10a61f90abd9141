// `docker: true` on this machine's backend: the run's container is the DinD image (config.yml's
// dind_image: here the Debian test image with Debian's docker.io, whose daemon.json keeps the inner
// engine off the host network), privileged, with a dockerd the agent started before init; a local
// image loaded inside runs with `docker run --network none`, from init and over `ssh NAME`. The
// deprecated `setup` runs before init and apply warns of it and of `home_dir`. An image without
// dockerd fails the run, saying so. The engine is one where privileged containers start
// (harness/privileged-engine.ts: on machines whose capability bounding set is not whole, a private
// engine whose runc drops what is missing).
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { docker } from '../harness/docker';
import { DIND_IMAGE, ensureDindTarball } from '../harness/images';
import { privilegedEngine, type PrivilegedEngine } from '../harness/privileged-engine';
import { mustRun, waitFor } from '../harness/util';
import { dstack, getRun, gitRepo, mustDstack, runName, sandbox, ssh, waitForRun, type Sandbox } from './helpers';

describe('docker: true (Docker-in-Docker)', () => {
  let engine: PrivilegedEngine | undefined;
  let busyboxTar: string;
  let work: string;
  const sandboxes: Sandbox[] = [];

  beforeAll(async () => {
    const tarball = await ensureDindTarball(inject('debianImage'));
    engine = await privilegedEngine();
    if (engine.dropped.length) console.error(`dind suite: a private engine whose runc drops ${engine.dropped.join(', ')}`);
    await engine.load(tarball);
    work = mkdtempSync(join(process.env.TMPDIR ?? '/tmp', 'dstack-dind-'));
    busyboxTar = join(work, 'busybox.tar');
    await docker(['save', '-o', busyboxTar, inject('busyboxImage')]);
    await engine.load(busyboxTar);
  }, 900_000);

  afterAll(async () => {
    for (const sb of sandboxes) await sb.cleanup();
    await engine?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  }, 300_000);

  function dindSandbox(prefix: string, dindImage: string): Sandbox {
    const sb = sandbox(prefix, { dockerHost: engine!.host });
    sandboxes.push(sb);
    appendFileSync(join(sb.dstackHome, 'config.yml'), `dind_image: ${dindImage}\n`);
    return sb;
  }

  it('runs a local image with docker run inside the run, from init and over ssh', async () => {
    const sb = dindSandbox('dind', DIND_IMAGE);
    const name = runName('dind');
    const busybox = inject('busyboxImage');
    const repo = await gitRepo(
      sb,
      [
        'type: dev-environment',
        `name: ${name}`,
        'docker: true',
        'home_dir: /root',
        'setup:',
        '  - echo from-setup',
        'init:',
        '  - docker load -i /workflow/busybox.tar',
        `  - docker run --rm --network none ${busybox} echo hello-from-the-inner-container`,
        '',
      ].join('\n'),
    );
    await mustRun('cp', [busyboxTar, join(repo, 'busybox.tar')]);
    const apply = await mustDstack(sb, ['apply', '-f', '.dstack.yml', '-y', '-d'], { cwd: repo });
    expect(apply.stderr).toContain('warning: ');
    expect(apply.stderr).toMatch(
      /warning: \S*\.dstack\.yml:4:1: `home_dir` is deprecated \(dstack 0\.18\.31\) and has no effect: remove it/,
    );
    expect(apply.stderr).toMatch(
      /warning: \S*\.dstack\.yml:5:1: `setup` is deprecated \(dstack 0\.18\.31\): its commands run right before `init`/,
    );

    const logs = await waitFor(
      'init to run a container inside the run',
      async () => {
        const r = await dstack(sb, ['logs', name]);
        return r.stdout.includes('hello-from-the-inner-container') ? r.stdout : undefined;
      },
      { timeoutMs: 180_000, intervalMs: 1000 },
    );
    // setup, then the loaded image, then the inner container's output.
    expect(logs.indexOf('from-setup')).toBeGreaterThanOrEqual(0);
    expect(logs.indexOf('from-setup')).toBeLessThan(logs.indexOf(`Loaded image: ${busybox}`));

    const run = await waitForRun(sb, name, (r) => Boolean(r.job?.containerId), 'with a container');
    const inspect = await mustRun('docker', [
      '-H',
      engine!.host,
      'inspect',
      '-f',
      '{{.HostConfig.Privileged}} {{.Config.Image}} {{.HostConfig.NetworkMode}}',
      run.job!.containerId!,
    ]);
    expect(inspect.stdout.trim()).toBe(`true ${DIND_IMAGE} host`);

    const inner = await ssh(sb, name, `docker run --rm --network none ${busybox} sh -c 'echo via-ssh; ls /sys/class/net'`);
    expect(inner.code).toBe(0);
    // --network none: the inner container has loopback only.
    expect(inner.stdout).toBe('via-ssh\nlo\n');
    // The inner engine made no bridge in the host's network namespace (the outer container shares it).
    const host = await ssh(sb, name, 'if [ -e /sys/class/net/docker0 ]; then echo docker0; else echo no-docker0; fi');
    expect(host.stdout).toBe('no-docker0\n');
    await mustDstack(sb, ['stop', name, '-y']);
    // `stopped`: its container kept (stop and resume with state); the sandbox's cleanup removes it.
    await waitForRun(sb, name, (r) => ['terminated', 'done', 'failed', 'stopped'].includes(r.status), 'finished');
  });

  it('fails the run, saying so, when the DinD image has no dockerd', async () => {
    const busybox = inject('busyboxImage');
    const sb = dindSandbox('dind-none', busybox);
    const name = runName('dindnone');
    const repo = await gitRepo(sb, ['type: dev-environment', `name: ${name}`, 'docker: true', 'init:', '  - echo never', ''].join('\n'));
    await dstack(sb, ['apply', '-f', '.dstack.yml', '-y', '-d'], { cwd: repo });
    const run = await waitForRun(sb, name, (r) => r.status === 'failed', 'failed');
    expect(run.statusMessage).toMatch(
      new RegExp(`docker: true: the image ${busybox.replace(/[.]/g, '\\.')} has no dockerd \\(nor dstack's start-dockerd\\)`),
    );
    expect((await getRun(sb, name))?.terminationReason).toBe('creating_container_error');
    expect((await dstack(sb, ['logs', name])).stdout).not.toContain('never');
  });
});
