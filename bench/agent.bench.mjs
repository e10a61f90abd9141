// The agent executable: cold start to its first Handshake answer (next to the same executable's
// `--help`, i.e. what starting it costs at all), and SubmitJob → running on the Debian image (next to
// `docker run -d --network host IMAGE` + `docker exec CONTAINER true` of the same image, measured in
// the same run on the test engine). Needs the e2e harness's engine and image (any e2e run makes them).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DOCKER_HOST, TEST_IMAGE, docker, loadBundle, requireTestEngine, median, report, root, sh, time, timeMedian } from './lib.mjs';

const IMAGE = TEST_IMAGE;
const AGENT = join(root, 'dist/agent/dstack-agent-linux-x64');
const require = createRequire(import.meta.url);

/** The generated AgentClient (TypeScript) bundled for this script, with grpc-js's credentials. */
async function loadClient() {
  const lib = await loadBundle('agent-client', "export { AgentClient, JobState } from './packages/core/src/gen/agent.ts';");
  return { ...lib, credentials: require('@grpc/grpc-js').credentials };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const unary = (client, method, req) =>
  new Promise((resolve, reject) => client[method](req, (err, res) => (err ? reject(err) : resolve(res))));

/** Starts `serve` on a fresh data dir; resolves once a handshake is answered. */
async function startAgent(lib, dir) {
  const proc = spawn(AGENT, ['serve', '--data-dir', dir, '--log-file', join(dir, '..', 'agent.log')], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, DOCKER_HOST },
    stdio: 'ignore',
  });
  const client = new lib.AgentClient(`unix://${join(dir, 'agent.sock')}`, lib.credentials.createInsecure());
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (existsSync(join(dir, 'agent.sock'))) {
      try {
        await unary(client, 'handshake', { daemonVersion: 'bench', protocolVersion: 1 });
        return { proc, client };
      } catch {
        /* not yet */
      }
    }
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`the agent did not answer (exit ${proc.exitCode})`);
    await sleep(5);
  }
}

async function stopAgent({ proc, client }) {
  client.close();
  const gone = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  await gone;
}

function jobSpec(jobId) {
  return {
    jobId,
    runName: 'bench',
    repoId: 'bench',
    runtime: 'docker',
    image: IMAGE,
    registryAuth: undefined,
    privileged: false,
    env: {},
    init: [],
    workingDir: '',
    user: '',
    shell: '',
    gpus: undefined,
    shmSizeGb: 0,
    authorizedKeys: [],
    ide: undefined,
    expectCode: false,
    labels: {},
    sshPort: 0,
    mounts: [],
  };
}

/** SubmitJob → RUNNING as seen on the Events stream. */
async function submitToRunning(lib, client, jobId) {
  const events = client.events({ jobId });
  const running = new Promise((resolve, reject) => {
    events.on('data', (e) => {
      if (e.payload?.$case !== 'status') return;
      if (e.payload.value.state === lib.JobState.JOB_STATE_RUNNING) resolve();
      if (e.payload.value.state === lib.JobState.JOB_STATE_FAILED) reject(new Error(e.payload.value.message));
    });
    events.on('error', () => {});
  });
  const ms = await time(async () => {
    await unary(client, 'submitJob', { spec: jobSpec(jobId) });
    await running;
  });
  events.cancel();
  return ms;
}

export default async function agentBench() {
  if (!existsSync(AGENT)) throw new Error(`${AGENT} is missing: npm run build:agent`);
  const lib = await loadClient();
  const work = mkdtempSync(join(tmpdir(), 'dstack-bench-agent-'));
  try {
    const n = 7;
    const help = await timeMedian(() => sh(AGENT, ['--help']), { n });
    const starts = [];
    for (let i = 0; i <= n; i++) {
      const dir = join(work, `cold-${i}`);
      const t0 = process.hrtime.bigint();
      const agent = await startAgent(lib, dir);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (i > 0) starts.push(ms); // the first warms the page cache
      await stopAgent(agent);
    }
    report({
      name: 'agent cold start → first Handshake answer',
      value: median(starts),
      baseline: help,
      baselineName: 'dstack-agent --help',
    });

    await requireTestEngine();
    const dockerRuns = [];
    for (let i = 0; i <= 5; i++) {
      let cid;
      const ms = await time(() => {
        cid = docker(['run', '-d', '--network', 'host', '--entrypoint', 'sleep', IMAGE, 'infinity']).trim();
        docker(['exec', cid, 'true']);
      });
      docker(['rm', '-f', cid]);
      if (i > 0) dockerRuns.push(ms);
    }
    const agent = await startAgent(lib, join(work, 'jobs'));
    const runs = [];
    try {
      for (let i = 0; i <= 5; i++) {
        const jobId = `bench-${process.pid}-${i}`;
        const ms = await submitToRunning(lib, agent.client, jobId);
        if (i > 0) runs.push(ms);
        await unary(agent.client, 'removeJob', { jobId });
      }
    } finally {
      await stopAgent(agent);
    }
    report({
      name: 'SubmitJob → running (Debian image)',
      value: median(runs),
      baseline: median(dockerRuns),
      baselineName: 'docker run -d + docker exec true',
    });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
