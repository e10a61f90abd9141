// Global setup of the e2e project: checks that every system part is installed (and fails loudly
// when one is missing: a skipped e2e suite hides failures), starts a private Docker engine, builds
// the test images and starts a private registry. Suites read these with inject().
import type { TestProject } from 'vitest/node';
import 'vitest';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDockerd } from './docker';
import { ensureBusyboxImage, ensureDebianImage, ensureSshdImage, CACHE_DIR } from './images';
import { startRegistry } from './registry';
import { endUserHome, leftoversUnder } from './sandbox';
import { execOk } from './util';

const REQUIRED = [
  ['dockerd', 'docker.io'],
  ['docker', 'docker.io'],
  ['debootstrap', 'debootstrap'],
  ['sshd', 'openssh-server'],
  ['ssh', 'openssh-client'],
  ['scp', 'openssh-client'],
  ['sftp', 'openssh-client'],
  ['ssh-keygen', 'openssh-client'],
  ['ssh-agent', 'openssh-client'],
  ['rsync', 'rsync'],
  ['docker-registry', 'docker-registry'],
  ['htpasswd', 'apache2-utils'],
  ['busybox', 'busybox-static'],
  ['ip', 'iproute2'],
  ['git', 'git'],
] as const;

declare module 'vitest' {
  export interface ProvidedContext {
    dockerHost: string;
    debianImage: string;
    busyboxImage: string;
    sshdImage: string;
    registry: { address: string; username: string; password: string; privateImage: string };
  }
}

export default async function setup(project: TestProject) {
  if (process.getuid?.() !== 0) throw new Error('the e2e suites need root (dockerd, network namespaces): run them as root');
  const missing: string[] = [];
  for (const [bin, pkg] of REQUIRED)
    if (!(await execOk('sh', ['-c', `command -v ${bin}`]))) missing.push(`${bin} (apt-get install ${pkg})`);
  if (!(await execOk('sh', ['-c', 'command -v sshd || test -x /usr/sbin/sshd']))) missing.push('sshd (apt-get install openssh-server)');
  if (missing.length)
    throw new Error(`e2e suites need these system parts, missing here: ${missing.join(', ')}. Run scripts/install-test-deps.sh`);

  const engine = await step('the test Docker engine', startDockerd);
  const debianImage = await step('the Debian test image', ensureDebianImage);
  const busyboxImage = await step('the busybox test image', ensureBusyboxImage);
  const sshdImage = await step('the Debian test image with sshd', () => ensureSshdImage(debianImage));
  const regDir = join(CACHE_DIR, `registry-${process.pid}`);
  mkdirSync(regDir, { recursive: true });
  const registry = await step('the test registry', () => startRegistry(regDir, busyboxImage));

  // Every temp dir the suites make (sandboxes, agents' data dirs) goes under one folder of this run
  // (the workers inherit TMPDIR): the check at the end looks for what was left under it, so runs
  // by others in parallel never trip it. Set after the shared engine and registry started.
  const runRoot = mkdtempSync(join(tmpdir(), 'dstack-e2e-run-'));
  process.env.TMPDIR = runRoot;

  project.provide('dockerHost', engine.host);
  project.provide('debianImage', debianImage);
  project.provide('busyboxImage', busyboxImage);
  project.provide('sshdImage', sshdImage);
  project.provide('registry', {
    address: registry.address,
    username: registry.username,
    password: registry.password,
    privateImage: registry.privateImage,
  });

  return async () => {
    await registry.stop();
    // Nothing a suite started may outlive the run: an agent, a daemon, a job's process or container.
    const left = await leftoversUnder(runRoot);
    if (left.processes.length || left.containers.length) await endUserHome(runRoot, join(runRoot, 'none'));
    if (!process.env.DSTACK_TEST_KEEP) rmSync(runRoot, { recursive: true, force: true });
    if (left.processes.length || left.containers.length) {
      const lines = [...left.processes.map((p) => `  process ${p.pid}: ${p.what}`), ...left.containers.map((c) => `  container ${c.what}`)];
      // vitest reports an error thrown here but still exits 0: the exit code says it too.
      process.exitCode = 1;
      throw new Error(`the e2e run left these behind (now ended; a suite's cleanup misses them):\n${lines.join('\n')}`);
    }
  };
}

/** One setup step; a step still going after a minute says so every minute, so a CI log shows what it waits on. */
async function step<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  const timer = setInterval(
    () => console.error(`e2e setup: still waiting for ${what} (${Math.round((Date.now() - t0) / 1000)} s)`),
    60_000,
  );
  try {
    return await fn();
  } finally {
    clearInterval(timer);
  }
}
