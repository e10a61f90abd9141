// Shared bench helpers: timing, medians, and one report line per measurement, always next to a
// baseline measured in the same run (so the ratio means something on whatever machine runs it).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Milliseconds of one run of fn (sync or async). */
export async function time(fn) {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** Median milliseconds of n runs, after `warmup` unmeasured ones. */
export async function timeMedian(fn, { n = 10, warmup = 1 } = {}) {
  for (let i = 0; i < warmup; i++) await fn();
  const xs = [];
  for (let i = 0; i < n; i++) xs.push(await time(fn));
  return median(xs);
}

/** Runs a command synchronously; throws when it fails (a bench of a broken command means nothing). */
export function sh(cmd, args, opts = {}) {
  const res = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  if (res.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${res.status}): ${res.stderr}`);
  return res.stdout;
}

/**
 * Runs a command without blocking this process (an API double in it answers the command's calls);
 * resolves with its stdout, rejects when it fails.
 */
export function run(cmd, args, { env, cwd, input } = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env, cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} failed (${code}): ${err}${out}`))));
    p.stdin.end(input ?? '');
  });
}

const rows = [];

/**
 * One line: what was measured, its value, the baseline's, the ratio, and the goal when there is one.
 * Units are milliseconds unless `unit` says otherwise.
 */
export function report({ name, value, baseline, baselineName, goal, unit = 'ms' }) {
  const ratio = baseline ? value / baseline : undefined;
  const fmt = (v) => `${v.toFixed(v < 10 ? 2 : 0)} ${unit}`;
  const parts = [`${name}: ${fmt(value)}`];
  if (baseline !== undefined) parts.push(`${baselineName}: ${fmt(baseline)}`, `ratio ${ratio.toFixed(2)}×`);
  if (goal !== undefined && ratio !== undefined) parts.push(ratio <= goal ? `(goal ≤ ${goal}×: met)` : `(goal ≤ ${goal}×: NOT met)`);
  const line = parts.join('  ');
  rows.push({ name, value, baseline, baselineName, ratio, goal, unit });
  console.log(line);
}

export function results() {
  return rows;
}

/**
 * Bundles TypeScript sources of the repo (`contents` is an entry module, e.g. `export { X } from
 * './packages/.../x.ts';`) into .cache/bench/NAME.cjs for a bench script and loads it; npm packages
 * stay external.
 */
export async function loadBundle(name, contents) {
  const { build } = await import('esbuild');
  const { createRequire } = await import('node:module');
  const { mkdirSync } = await import('node:fs');
  const out = join(root, '.cache/bench', `${name}.cjs`);
  mkdirSync(dirname(out), { recursive: true });
  // Workspace packages (@dstack/core/x → packages/core/src/x.ts) are bundled; npm packages are not.
  const workspace = {
    name: 'workspace',
    setup(b) {
      b.onResolve({ filter: /^@dstack\// }, (args) => {
        const [, pkg, ...rest] = args.path.split('/');
        return { path: join(root, 'packages', pkg, 'src', `${rest.length ? rest.join('/') : 'index'}.ts`) };
      });
    },
  };
  await build({
    stdin: { contents, resolveDir: root, loader: 'ts' },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    packages: 'external',
    plugins: [workspace],
    outfile: out,
    logLevel: 'error',
  });
  return createRequire(import.meta.url)(out);
}

// ---- the e2e harness's Docker engine and image (an e2e run starts and builds them) -------------

export const DOCKER_SOCKET = '/run/dstack-test-docker.sock';
export const DOCKER_HOST = `unix://${DOCKER_SOCKET}`;
export const TEST_IMAGE = 'dstack-test/debian:bookworm-v1';

/** Does the test engine answer (asked through the docker CLI, as the benches use it)? */
export async function dockerPing() {
  return (
    spawnSync('docker', ['-H', DOCKER_HOST, 'version', '--format', '{{.Server.Version}}'], { stdio: 'ignore', timeout: 10_000 }).status ===
    0
  );
}

/** The docker CLI on the test engine; throws when it fails. */
export function docker(args) {
  return sh('docker', ['-H', DOCKER_HOST, ...args]);
}

/** Throws a line saying what to run when the test engine or its image is missing. */
export async function requireTestEngine(image = TEST_IMAGE) {
  if (!(await dockerPing())) {
    throw new Error(
      `the test Docker engine does not answer on ${DOCKER_SOCKET}: run the e2e suites once (\`npm run test:e2e\`, it starts it and builds ${image}) and keep it running`,
    );
  }
  if (spawnSync('docker', ['-H', DOCKER_HOST, 'image', 'inspect', image], { stdio: 'ignore' }).status !== 0) {
    throw new Error(`the image ${image} is missing on the test engine: run the e2e suites once (\`npm run test:e2e\`) to build it`);
  }
}

/** Throws naming what `npm run build` makes when a built part is missing. */
export function requireBuilt(paths = ['dist/cli.cjs', 'dist/daemon.cjs', 'dist/agent/dstack-agent-linux-x64']) {
  for (const p of paths) if (!existsSync(join(root, p))) throw new Error(`${p} is missing: run \`npm run build\``);
}

// ---- a user of the built CLI, in a temp dir, and everything it started ended afterwards --------

/**
 * A fresh user for the built CLI: HOME, DSTACK_HOME (config.yml pointing the base image at the test
 * image) and a repo folder under one temp dir. `cleanup()` stops what is still active, the daemon,
 * and the local agent (which outlives the daemon by design), then removes the dir.
 */
export function cliSandbox(prefix, { dockerHost = DOCKER_HOST, config = `base_image: ${TEST_IMAGE}\n` } = {}) {
  const dir = mkdtempSync(join(tmpdir(), `dstack-bench-${prefix}-`));
  const home = join(dir, 'home');
  const dstackHome = join(dir, 'dh');
  const repo = join(dir, 'repo');
  for (const d of [home, dstackHome, repo]) mkdirSync(d, { recursive: true });
  if (config) writeFileSync(join(dstackHome, 'config.yml'), config);
  const env = { ...process.env, HOME: home, DSTACK_HOME: dstackHome, DOCKER_HOST: dockerHost };
  const cli = join(root, 'dist/cli.cjs');
  const dstack = (args, opts = {}) => sh(process.execPath, [cli, ...args], { env, cwd: repo, ...opts });
  const quiet = (args) => spawnSync(process.execPath, [cli, ...args], { env, cwd: repo, stdio: 'ignore' });
  return {
    dir,
    home,
    dstackHome,
    repo,
    env,
    dstack,
    sshConfig: join(home, '.ssh', 'config'),
    async cleanup() {
      try {
        const ps = spawnSync(process.execPath, [cli, 'ps', '-a', '--json'], { env, cwd: repo, encoding: 'utf8' });
        if (ps.status === 0) {
          for (const r of JSON.parse(ps.stdout).runs ?? []) {
            if (!['terminated', 'failed', 'done'].includes(r.status)) quiet(['stop', r.name, '-x', '-y']);
          }
        }
        quiet(['daemon', 'stop']);
        await stopLocalAgent(dstackHome);
        // Whatever a failed stop left: the containers of this home's runs.
        if (dockerHost === DOCKER_HOST) {
          const left =
            spawnSync('docker', ['-H', DOCKER_HOST, 'ps', '-aq', '--filter', `label=ai.dstack.home=${dstackHome}`], { encoding: 'utf8' })
              .stdout?.split('\n')
              .filter(Boolean) ?? [];
          if (left.length) spawnSync('docker', ['-H', DOCKER_HOST, 'rm', '-f', ...left], { stdio: 'ignore' });
        }
      } finally {
        // DSTACK_BENCH_KEEP=1 keeps the logs and state of the run (daemon.log, the agent's job logs) to look at.
        if (process.env.DSTACK_BENCH_KEEP) console.log(`  kept: ${dir}`);
        else rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** Ends the local agent of a DSTACK_HOME (SIGTERM by its pid file, SIGKILL after 20 s); its jobs stay as they are. */
export async function stopLocalAgent(dstackHome) {
  const pidFile = join(dstackHome, 'local', 'agent', 'agent.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!pid || !alive()) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 20_000;
  while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (alive()) process.kill(pid, 'SIGKILL');
}
