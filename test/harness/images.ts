// Test images, built on this machine (no registry outside it answers):
// - a Debian bookworm image from debootstrap (bash, python3, git, rsync, sftp-server, ssh client),
//   cached as a rootfs tarball so later runs import it in seconds;
// - a busybox image (a static busybox and its applets): nothing but /bin/sh and friends, the
//   smallest image the agent must serve;
// - the Debian image plus python3-pip (ensurePipImage), for a suite that installs a package with pip;
// - the Debian image with OpenSSH's sshd, installed by the container-cloud bootstrap's own install
//   step (apt-get from the machine's Debian mirror), cached with `docker save`: what a container
//   cloud's instance looks like once its bootstrap got an sshd in;
// - the Debian image with Debian's docker.io (dockerd, containerd, runc, the docker CLI) and an
//   /etc/docker/daemon.json that keeps the inner engine off the host's network (no bridge, no
//   iptables: the job's container shares the host's network), built the same way and cached the
//   same way: the stand-in for dstack's DinD image (`docker: true`, config.yml's dind_image). Built
//   on demand by the suite that needs it, not by the global setup.
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  copyFileSync,
  chmodSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { sshdInstall } from '@dstack/backends/cloud/container-bootstrap';
import { DOCKER_HOST, docker } from './docker';
import { mustRun, run } from './util';

export const CACHE_DIR = process.env.DSTACK_TEST_CACHE ?? '/var/cache/dstack-test';
export const DEBIAN_IMAGE = 'dstack-test/debian:bookworm-v1';
export const BUSYBOX_IMAGE = 'dstack-test/busybox:v1';
export const SSHD_IMAGE = 'dstack-test/debian-sshd:bookworm-v1';
const SSHD_TARBALL = join(CACHE_DIR, 'debian-sshd-bookworm-v1.tar');
export const DIND_IMAGE = 'dstack-test/debian-dind:bookworm-v1';
export const DIND_TARBALL = join(CACHE_DIR, 'debian-dind-bookworm-v1.tar');
const DEBIAN_PACKAGES = 'bash,openssh-sftp-server,openssh-client,rsync,git,python3,procps,ca-certificates';
const DEBIAN_TARBALL = join(CACHE_DIR, 'debian-bookworm-v1.tar');

async function imageExists(tag: string): Promise<boolean> {
  const res = await run('docker', ['-H', DOCKER_HOST, 'image', 'inspect', tag]);
  return res.code === 0;
}

/** The machine's own Debian mirror (apt sources), which debootstrap can reach. */
export function debianMirror(): string {
  for (const file of ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list']) {
    if (!existsSync(file)) continue;
    const text = readFileSync(file, 'utf8');
    const uris = /^URIs:\s*(\S+)/m.exec(text) ?? /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\b/m.exec(text);
    if (uris) return uris[1];
  }
  return 'http://deb.debian.org/debian';
}

// debootstrap fetches with wget, whose defaults wait 900 s on a stalled read and try 20 times: one
// stalled download from the mirror could hold the whole e2e setup. These bound each fetch; debootstrap
// retries a failed one itself, and a failed attempt is started again from scratch.
const WGETRC = 'read_timeout = 30\nconnect_timeout = 20\ndns_timeout = 20\ntries = 3\nwaitretry = 2\n';
const DEBOOTSTRAP_ATTEMPTS = 3;

async function debootstrap(work: string, rootfs: string): Promise<void> {
  const wgetrc = join(work, 'wgetrc');
  writeFileSync(wgetrc, WGETRC);
  const mirror = debianMirror();
  for (let attempt = 1; ; attempt++) {
    const t0 = Date.now();
    console.error(`e2e setup: building the Debian test image with debootstrap from ${mirror} (attempt ${attempt}/${DEBOOTSTRAP_ATTEMPTS})`);
    const res = await run('debootstrap', ['--variant=minbase', `--include=${DEBIAN_PACKAGES}`, 'bookworm', rootfs, mirror], {
      env: { ...process.env, WGETRC: wgetrc },
      timeoutMs: 10 * 60_000,
    });
    if (res.code === 0) {
      console.error(`e2e setup: debootstrap done in ${Math.round((Date.now() - t0) / 1000)} s`);
      return;
    }
    const why = `debootstrap exited ${res.code ?? `on ${res.signal} (10-minute limit)`}: ${(res.stderr.trim() || res.stdout.trim()).split('\n').slice(-5).join(' | ')}`;
    if (attempt === DEBOOTSTRAP_ATTEMPTS) throw new Error(`could not build the Debian test image: ${why}`);
    console.error(`e2e setup: ${why}; starting again`);
    rmSync(rootfs, { recursive: true, force: true });
  }
}

async function buildDebianTarball(): Promise<void> {
  mkdirSync(CACHE_DIR, { recursive: true });
  const work = mkdtempSync(join(CACHE_DIR, 'debootstrap-'));
  const rootfs = join(work, 'rootfs');
  try {
    await debootstrap(work, rootfs);
    // Trim what an image never needs: apt lists and caches.
    rmSync(join(rootfs, 'var/cache/apt/archives'), { recursive: true, force: true });
    rmSync(join(rootfs, 'var/lib/apt/lists'), { recursive: true, force: true });
    await mustRun('tar', ['-C', rootfs, '-cf', `${DEBIAN_TARBALL}.tmp`, '.']);
    renameSync(`${DEBIAN_TARBALL}.tmp`, DEBIAN_TARBALL);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export async function ensureDebianImage(): Promise<string> {
  if (await imageExists(DEBIAN_IMAGE)) return DEBIAN_IMAGE;
  if (!existsSync(DEBIAN_TARBALL)) await buildDebianTarball();
  await docker(['import', '--change', 'CMD ["/bin/bash"]', DEBIAN_TARBALL, DEBIAN_IMAGE], { timeoutMs: 10 * 60_000 });
  return DEBIAN_IMAGE;
}

export async function ensureBusyboxImage(): Promise<string> {
  if (await imageExists(BUSYBOX_IMAGE)) return BUSYBOX_IMAGE;
  const work = mkdtempSync(join(CACHE_DIR, 'busybox-'));
  try {
    const bin = join(work, 'bin');
    mkdirSync(bin, { recursive: true });
    for (const d of ['tmp', 'root', 'etc', 'proc', 'sys', 'dev']) mkdirSync(join(work, d), { recursive: true });
    chmodSync(join(work, 'tmp'), 0o1777);
    copyFileSync('/bin/busybox', join(bin, 'busybox'));
    chmodSync(join(bin, 'busybox'), 0o755);
    const applets = (await mustRun('/bin/busybox', ['--list'])).stdout.split('\n').filter(Boolean);
    for (const applet of applets) {
      if (applet !== 'busybox') symlinkSync('busybox', join(bin, applet));
    }
    await mustRun('sh', [
      '-c',
      `printf 'root:x:0:0:root:/root:/bin/sh\\n' > ${work}/etc/passwd; printf 'root:x:0:\\n' > ${work}/etc/group`,
    ]);
    await mustRun('sh', ['-c', `tar -C ${work} -c . | docker -H ${DOCKER_HOST} import --change 'CMD ["/bin/sh"]' - ${BUSYBOX_IMAGE}`]);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return BUSYBOX_IMAGE;
}

/** The Debian image plus OpenSSH's sshd, put there by the bootstrap's install step (its apt-get path, for real). */
export async function ensureSshdImage(debianImage: string): Promise<string> {
  if (await imageExists(SSHD_IMAGE)) return SSHD_IMAGE;
  if (existsSync(SSHD_TARBALL)) {
    await docker(['load', '-i', SSHD_TARBALL], { timeoutMs: 5 * 60_000 });
    if (await imageExists(SSHD_IMAGE)) return SSHD_IMAGE;
  }
  const maker = `sshd-image-${process.pid}-${Date.now()}`;
  const script = `set -u\nlog() { echo "$*"; }\nfail() { echo "$*" >&2; exit 78; }\n${sshdInstall()}echo "sshd: $SSHD"\n`;
  try {
    const res = await run(
      'docker',
      ['-H', DOCKER_HOST, 'run', '--name', maker, '--network', 'host', '--entrypoint', '/bin/sh', debianImage, '-c', script],
      { timeoutMs: 10 * 60_000 },
    );
    if (res.code !== 0) throw new Error(`installing sshd in the Debian test image failed (exit ${res.code}): ${res.stdout}${res.stderr}`);
    await docker(['commit', '--change', 'CMD ["/bin/bash"]', maker, SSHD_IMAGE]);
  } finally {
    await run('docker', ['-H', DOCKER_HOST, 'rm', '-f', maker]);
  }
  mkdirSync(CACHE_DIR, { recursive: true });
  await docker(['save', '-o', `${SSHD_TARBALL}.tmp`, SSHD_IMAGE], { timeoutMs: 5 * 60_000 });
  renameSync(`${SSHD_TARBALL}.tmp`, SSHD_TARBALL);
  return SSHD_IMAGE;
}

/** The inner engine's settings: no bridge and no iptables rules, since the container has the host's network. */
const DIND_DAEMON_JSON = '{"bridge": "none", "iptables": false, "ip6tables": false, "ip-masq": false}';

/**
 * The Debian image plus `packages` (apt-get from the machine's Debian mirror, in a container on the
 * host network, then `after`), committed as `tag` and saved as `tarball`, which is returned.
 */
async function aptImageTarball(debianImage: string, tag: string, tarball: string, packages: string, after: string[]): Promise<string> {
  if (existsSync(tarball)) return tarball;
  if (!(await imageExists(tag))) {
    const maker = `apt-image-${process.pid}-${Date.now()}`;
    const script = [
      'set -e',
      'export DEBIAN_FRONTEND=noninteractive',
      `echo 'deb ${debianMirror()} bookworm main' > /etc/apt/sources.list`,
      'apt-get update -q',
      `apt-get install -y -q --no-install-recommends ${packages}`,
      'apt-get clean',
      'rm -rf /var/lib/apt/lists/*',
      ...after,
    ].join('\n');
    try {
      const res = await run(
        'docker',
        ['-H', DOCKER_HOST, 'run', '--name', maker, '--network', 'host', '--entrypoint', '/bin/sh', debianImage, '-c', script],
        { timeoutMs: 10 * 60_000 },
      );
      if (res.code !== 0)
        throw new Error(`installing ${packages} in the Debian test image failed (exit ${res.code}): ${res.stdout}${res.stderr}`);
      await docker(['commit', '--change', 'CMD ["/bin/bash"]', maker, tag]);
    } finally {
      await run('docker', ['-H', DOCKER_HOST, 'rm', '-f', maker]);
    }
  }
  mkdirSync(CACHE_DIR, { recursive: true });
  const tmp = `${tarball}.${process.pid}.tmp`;
  await docker(['save', '-o', tmp, tag], { timeoutMs: 5 * 60_000 });
  renameSync(tmp, tarball);
  return tarball;
}

/** The Debian image plus docker.io, saved as DIND_TARBALL: a suite loads it into the engine it runs on. */
export function ensureDindTarball(debianImage: string): Promise<string> {
  return aptImageTarball(debianImage, DIND_IMAGE, DIND_TARBALL, 'docker.io', [
    'mkdir -p /etc/docker',
    `echo '${DIND_DAEMON_JSON}' > /etc/docker/daemon.json`,
    'command -v dockerd',
  ]);
}

export const PIP_IMAGE = 'dstack-test/debian-pip:bookworm-v1';
const PIP_TARBALL = join(CACHE_DIR, 'debian-pip-bookworm-v1.tar');

/** The Debian image plus pip (python3-pip: setuptools and wheel with it), in the test engine. */
export async function ensurePipImage(debianImage: string): Promise<string> {
  if (await imageExists(PIP_IMAGE)) return PIP_IMAGE;
  const tarball = await aptImageTarball(debianImage, PIP_IMAGE, PIP_TARBALL, 'python3-pip', ['python3 -m pip --version']);
  if (!(await imageExists(PIP_IMAGE))) await docker(['load', '-i', tarball], { timeoutMs: 5 * 60_000 });
  return PIP_IMAGE;
}
