// The container-cloud bootstrap on real containers (test/clouds/container-instances.ts: each in a
// network namespace of its own, reached at its own address): on an image with sshd it answers the
// daemon's key on port 10022 and nothing else; SIGTERM to its PID 1 (what the agent sends when a job
// ends at its limit) ends the container; an image with neither sshd nor a package manager ends at
// once, saying what an image needs. Its apt-get path ran for real when the global setup built the
// sshd test image (test/harness/images.ts, ensureSshdImage).
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { BOOTSTRAP_NO_SSHD_EXIT, CONTAINER_SSH_PORT, containerBootstrap, IMAGE_NEEDS } from '@dstack/backends/cloud/container-bootstrap';
import { mustRun, run, tempDir, waitFor } from '../harness/util';
import { containerInstances, type ContainerInstances } from './container-instances';

describe('the container-cloud bootstrap', () => {
  let instances: ContainerInstances;
  const scratch = tempDir('bootstrap');
  const key = join(scratch.path, 'id_ed25519');
  const other = join(scratch.path, 'id_other');
  let publicKey = '';

  beforeAll(async () => {
    instances = await containerInstances();
    await mustRun('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    await mustRun('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    publicKey = (await mustRun('cat', [`${key}.pub`])).stdout.trim();
  });
  afterAll(async () => {
    await instances?.destroy();
    scratch.cleanup();
  });

  const sshTo = (ip: string, identity: string, command: string) =>
    run(
      'ssh',
      [
        '-i',
        identity,
        '-p',
        String(CONTAINER_SSH_PORT),
        '-o',
        'BatchMode=yes',
        '-o',
        'StrictHostKeyChecking=no',
        '-o',
        'UserKnownHostsFile=/dev/null',
        '-o',
        'IdentitiesOnly=yes',
        '-o',
        'ConnectTimeout=5',
        `root@${ip}`,
        command,
      ],
      { timeoutMs: 30_000 },
    );

  it('on an image with sshd: answers the daemon key as root on 10022, refuses another key, and ends on SIGTERM to PID 1', async () => {
    const inst = await instances.launch({
      name: `bootstrap-ok-${process.pid}-${Date.now()}`,
      image: inject('sshdImage'),
      command: ['/bin/sh', '-c', containerBootstrap({ publicKey })],
      env: {},
    });
    const res = await waitFor(
      'the bootstrap sshd to answer',
      async () => {
        const r = await sshTo(inst.ip, key, 'id -u; cat /proc/1/cmdline | tr "\\0" " "');
        return r.code === 0 ? r : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 300 },
    );
    expect(res.stdout.split('\n')[0]).toBe('0');
    expect(res.stdout).toContain('/bin/sh -c');
    const refused = await sshTo(inst.ip, other, 'true');
    expect(refused.code).toBe(255);
    expect(refused.stderr).toMatch(/Permission denied/);
    // The agent's halt: SIGTERM to the container's PID 1.
    await sshTo(inst.ip, key, 'kill -TERM 1');
    const ended = await waitFor(
      'the container to exit',
      async () => {
        const s = await inst.state();
        return s.state === 'exited' ? s : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    expect(ended.exitCode).toBe(0);
    expect(await inst.logs()).toMatch(/dstack bootstrap: sshd answers on port 10022[\s\S]*dstack bootstrap: ending the container/);
  });

  it('on an image with neither sshd nor a package manager: ends at once, saying what an image needs', async () => {
    const inst = await instances.launch({
      name: `bootstrap-bare-${process.pid}-${Date.now()}`,
      image: inject('busyboxImage'),
      command: ['/bin/sh', '-c', containerBootstrap({ publicKey })],
      env: {},
    });
    const ended = await waitFor(
      'the container to exit',
      async () => {
        const s = await inst.state();
        return s.state === 'exited' ? s : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    expect(ended.exitCode).toBe(BOOTSTRAP_NO_SSHD_EXIT);
    const logs = await run('docker', ['-H', inject('dockerHost'), 'logs', inst.containerId]);
    expect(logs.stderr).toContain(`dstack bootstrap: the image has no sshd and no package manager to install it: ${IMAGE_NEEDS}`);
  });
});
