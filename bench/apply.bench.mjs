// apply → first successful `ssh NAME true`, next to what the same image takes with Docker alone:
// `docker run -d --network host IMAGE` + `docker exec CONTAINER true`, measured in the same run on
// the test engine (goal ≤ 1.5×). The daemon is started once before timing (a user's daemon is
// already up); each apply is a fresh run of a small git repo, stopped after it is measured.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median, report, root, sh, time } from './lib.mjs';

const DOCKER_SOCKET = '/run/dstack-test-docker.sock';
const DOCKER_HOST = `unix://${DOCKER_SOCKET}`;
const IMAGE = 'dstack-test/debian:bookworm-v1';
const CLI = join(root, 'dist/cli.cjs');

function dockerPing() {
  return new Promise((resolve) => {
    const req = request({ socketPath: DOCKER_SOCKET, path: '/_ping', timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

function docker(args) {
  return sh('docker', ['-H', DOCKER_HOST, ...args]);
}

/** Retries fn (sync, true on success) until it succeeds; throws after timeoutMs. */
async function until(what, fn, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export default async function bench() {
  for (const p of ['dist/cli.cjs', 'dist/daemon.cjs', 'dist/agent/dstack-agent-linux-x64']) {
    if (!existsSync(join(root, p))) throw new Error(`${p} is missing: run \`npm run build\``);
  }
  if (!(await dockerPing())) {
    throw new Error(`the test Docker engine does not answer on ${DOCKER_SOCKET}: run the e2e suites once (\`npm run test:e2e\`, it starts it and builds ${IMAGE}) and keep it running`);
  }
  if (spawnSync('docker', ['-H', DOCKER_HOST, 'image', 'inspect', IMAGE], { stdio: 'ignore' }).status !== 0) {
    throw new Error(`the image ${IMAGE} is missing on the test engine: run the e2e suites once (\`npm run test:e2e\`) to build it`);
  }

  const dir = mkdtempSync(join(tmpdir(), 'dstack-bench-apply-'));
  const home = join(dir, 'home');
  const dstackHome = join(dir, 'dh');
  const repo = join(dir, 'repo');
  for (const d of [home, dstackHome, repo]) mkdirSync(d, { recursive: true });
  writeFileSync(join(dstackHome, 'config.yml'), `base_image: ${IMAGE}\n`);
  const env = { ...process.env, HOME: home, DSTACK_HOME: dstackHome, DOCKER_HOST };
  sh('git', ['-C', repo, 'init', '-q']);
  writeFileSync(join(repo, 'train.py'), 'print("hello")\n');
  const dstack = (args) => sh(process.execPath, [CLI, ...args], { env, cwd: repo });
  const sshOk = (name) =>
    spawnSync('ssh', ['-F', join(home, '.ssh', 'config'), '-o', 'BatchMode=yes', name, 'true'], { env, stdio: 'ignore' }).status === 0;

  const runs = [];
  const containers = [];
  try {
    dstack(['daemon', 'start']);
    // One unmeasured round each to warm caches (agent upload, image layers), then three measured.
    const applyTimes = [];
    const dockerTimes = [];
    for (let i = 0; i < 4; i++) {
      const name = `bench-${process.pid}-${i}`;
      writeFileSync(join(repo, '.dstack.yml'), `type: dev-environment\nname: ${name}\n`);
      const ms = await time(async () => {
        runs.push(name);
        dstack(['apply', '-f', '.dstack.yml', '-y', '-d']);
        await until(`ssh ${name} true`, () => sshOk(name));
      });
      dstack(['stop', name, '-x', '-y']);
      if (i > 0) applyTimes.push(ms);

      const dms = await time(async () => {
        const id = docker(['run', '-d', '--network', 'host', IMAGE, 'sleep', 'infinity']).trim();
        containers.push(id);
        await until('docker exec true', () => spawnSync('docker', ['-H', DOCKER_HOST, 'exec', id, 'true'], { stdio: 'ignore' }).status === 0);
      });
      spawnSync('docker', ['-H', DOCKER_HOST, 'rm', '-f', containers.pop()], { stdio: 'ignore' });
      if (i > 0) dockerTimes.push(dms);
    }
    report({
      name: 'apply -d → first ssh NAME true',
      value: median(applyTimes),
      baseline: median(dockerTimes),
      baselineName: 'docker run -d + docker exec true',
      goal: 1.5,
    });
  } finally {
    for (const name of runs) spawnSync(process.execPath, [CLI, 'stop', name, '-x', '-y'], { env, stdio: 'ignore' });
    for (const id of containers) spawnSync('docker', ['-H', DOCKER_HOST, 'rm', '-f', id], { stdio: 'ignore' });
    spawnSync(process.execPath, [CLI, 'daemon', 'stop'], { env, stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  }
}
