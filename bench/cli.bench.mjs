// The CLI's speed, each figure next to a baseline measured in the same run:
// - cold start of every command (a fresh `node dist/cli.cjs ...` until it exits), each next to
//   `node -e 0` timed alternately with it (goal for `ps`: ≤ 2×);
// - `apply -d` → first successful `ssh NAME true`, next to `docker run -d` + `docker exec true` of the
//   same image on the test engine (goal ≤ 1.5×), and where its time goes: the CLI's phases
//   (DSTACK_TRACE), the daemon's steps (its log's timestamps), the CLI's exit and ssh, in time order.
// The daemon is started once before timing (a user's daemon is already up); one run stays up for
// ps/logs and one has ended for stop/attach.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DOCKER_HOST, TEST_IMAGE, cliSandbox, docker, median, report, requireBuilt, requireTestEngine, root, sh, time } from './lib.mjs';

const cli = join(root, 'dist/cli.cjs');
const now = () => performance.timeOrigin + performance.now();

/** Wall milliseconds of one `node ARGS` until it exits; its exit status must be `status`. */
function timeNode(args, { env, cwd, status = 0 }) {
  const t0 = now();
  const r = spawnSync(process.execPath, args, { env, cwd, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const ms = now() - t0;
  if (r.status !== status) throw new Error(`node ${args.join(' ')} exited ${r.status} (expected ${status}): ${r.stderr.trim()}`);
  return ms;
}

/** The command and `node -e 0`, alternately, n times each after one unmeasured round: both medians. */
function paired(args, opts, n) {
  const bare = { ...opts, status: 0 };
  timeNode(args, opts);
  timeNode(['-e', '0'], bare);
  const value = [];
  const baseline = [];
  for (let i = 0; i < n; i++) {
    value.push(timeNode(args, opts));
    baseline.push(timeNode(['-e', '0'], bare));
  }
  return { value: median(value), baseline: median(baseline) };
}

/** Retries fn (sync, true on success) until it succeeds; the number of tries. */
async function until(what, fn, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  for (let tries = 1; ; tries++) {
    if (fn()) return tries;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Epoch ms of the agent log's lines that match `re`. */
function agentLogTimes(logFile, re) {
  return readFileSync(logFile, 'utf8')
    .split('\n')
    .filter((l) => re.test(l))
    .map((l) => Date.parse(l.slice(0, l.indexOf(' '))));
}

/** The daemon log's lines about one run: [epoch ms, text]. */
function runLogLines(logFile, name) {
  const re = new RegExp(`^(\\S+) INFO +run ${name}: (.*)$`);
  return readFileSync(logFile, 'utf8')
    .split('\n')
    .map((l) => re.exec(l))
    .filter(Boolean)
    .map((m) => [Date.parse(m[1]), m[2]]);
}

// The daemon's steps of a run, by the first log line that marks each.
const DAEMON_STEPS = [
  ['submitted', /^Submitted run/],
  ['provisioning', /→ provisioning$/],
  ['job submitted to the agent', /→ pulling$/],
  ['image checked, code uploaded', /^Uploaded the repo/],
  ['container running', /→ running$/],
  ['SSH Host block written', /^SSH: /],
];

export default async function bench() {
  requireBuilt();
  await requireTestEngine();
  const sb = cliSandbox('cli');
  sh('git', ['-C', sb.repo, 'init', '-q']);
  writeFileSync(join(sb.repo, 'train.py'), 'print("hello")\n');
  const run = { env: sb.env, cwd: sb.repo };
  const sshOk = (name) =>
    spawnSync('ssh', ['-F', sb.sshConfig, '-o', 'BatchMode=yes', name, 'true'], { env: sb.env, stdio: 'ignore' }).status === 0;
  const config = (name) => {
    const file = join(sb.repo, `${name}.dstack.yml`);
    writeFileSync(file, `type: dev-environment\nname: ${name}\n`);
    return file;
  };
  const up = `cold-up-${process.pid}`;
  const done = `cold-done-${process.pid}`;
  const containers = [];
  try {
    sb.dstack(['daemon', 'start']);
    // The first apply deploys the agent and warms the image and caches: not measured.
    sb.dstack(['apply', '-f', config(done), '-y', '-d']);
    sb.dstack(['stop', done, '-x', '-y']);
    sb.dstack(['apply', '-f', config(up), '-y', '-d']);

    console.log('  cold start: each command until it exits, `node -e 0` timed alternately with it');
    const n = 10;
    const commands = [
      ['--help', ['--help']],
      ['--version', ['--version']],
      ['ps', ['ps']],
      ['ps -v', ['ps', '-v']],
      ['logs NAME', ['logs', up]],
      ['stop NAME (ended: says so)', ['stop', done, '-y']],
      ['delete NAME (no such run: exit 1)', ['delete', `nope-${process.pid}`, '-y'], 1],
      ['attach NAME (ended: exit 1)', ['attach', done], 1],
      ['offer', ['offer']],
      ['fleet', ['fleet']],
      ['validate -f examples/.dstack.yml', ['validate', '-f', join(root, 'examples/.dstack.yml')]],
      ['apply -f FILE -y -d (unchanged run: plan, no submit)', ['apply', '-f', config(up), '-y', '-d']],
    ];
    const nodeStarts = [];
    for (const [label, args, status = 0] of commands) {
      const { value, baseline } = paired([cli, ...args], { ...run, status }, n);
      nodeStarts.push(baseline);
      report({ name: `dstack ${label}`, value, baseline, baselineName: 'node -e 0', goal: label === 'ps' ? 2 : undefined });
    }

    // ssh into a run that is up, next to docker exec into a running container: the last step alone.
    const id = docker(['run', '-d', '--network', 'host', TEST_IMAGE, 'sleep', 'infinity']).trim();
    containers.push(id);
    const sshTimes = [];
    const execTimes = [];
    const toAuth = [];
    const agentLog = join(sb.dstackHome, 'local', 'agent', 'agent.log');
    for (let i = 0; i < n; i++) {
      const t0 = now();
      sshTimes.push(await time(() => sshOk(up) || Promise.reject(new Error(`ssh ${up} true failed`))));
      const authed = agentLogTimes(agentLog, / ssh: \S+ connected$/).find((t) => t >= t0);
      if (authed) toAuth.push(authed - t0);
      execTimes.push(await time(() => spawnSync('docker', ['-H', DOCKER_HOST, 'exec', id, 'true'], { stdio: 'ignore' })));
    }
    report({ name: 'ssh NAME true (run up)', value: median(sshTimes), baseline: median(execTimes), baselineName: 'docker exec true' });
    if (toAuth.length)
      console.log(
        `    of which ssh start → agent authenticated the client: ${median(toAuth).toFixed(0)} ms (median), the rest the session`,
      );
    sb.dstack(['stop', up, '-x', '-y']);

    // apply -d → first ssh true, with its phases.
    const applyTimes = [];
    const dockerTimes = [];
    const phases = new Map();
    const add = (k, v) => phases.set(k, [...(phases.get(k) ?? []), v]);
    const rounds = 6;
    for (let i = 0; i < rounds; i++) {
      const name = `bench-${process.pid}-${i}`;
      const file = config(name);
      let trace = '';
      let applyEnd = 0;
      let tries = 0;
      const t0 = now();
      const ms = await time(async () => {
        const apply = spawnSync(process.execPath, [cli, 'apply', '-f', file, '-y', '-d'], {
          ...run,
          env: { ...sb.env, DSTACK_TRACE: '1' },
          encoding: 'utf8',
        });
        applyEnd = now();
        if (apply.status !== 0) throw new Error(`dstack apply failed (${apply.status}): ${apply.stderr}`);
        trace = apply.stderr;
        tries = await until(`ssh ${name} true`, () => sshOk(name));
      });
      const end = t0 + ms;
      sb.dstack(['stop', name, '-x', '-y']);

      const dms = await time(async () => {
        const cid = docker(['run', '-d', '--network', 'host', TEST_IMAGE, 'sleep', 'infinity']).trim();
        containers.push(cid);
        await until(
          'docker exec true',
          () => spawnSync('docker', ['-H', DOCKER_HOST, 'exec', cid, 'true'], { stdio: 'ignore' }).status === 0,
        );
      });
      spawnSync('docker', ['-H', DOCKER_HOST, 'rm', '-f', containers.pop()], { stdio: 'ignore' });
      if (i === 0) continue; // warm-up round
      applyTimes.push(ms);
      dockerTimes.push(dms);

      // One timeline in epoch ms: the CLI's trace and the daemon's log, both with UTC times.
      const marks = [['spawn', t0]];
      for (const m of trace.matchAll(/^\[trace (\d+) ms (\S+)\] (.*)$/gm)) marks.push([`CLI: ${m[3]}`, Date.parse(m[2])]);
      const logLines = runLogLines(join(sb.dstackHome, 'daemon.log'), name);
      for (const [step, re] of DAEMON_STEPS) {
        const line = logLines.find(([, text]) => re.test(text));
        if (line) marks.push([`daemon: ${step}`, line[0]]);
      }
      marks.sort((a, b) => a[1] - b[1]);
      marks.push(['CLI exit', applyEnd]);
      // The agent's side of the first session: when it authenticated the client (its log, to the ms);
      // the session then waits for the container (the job's ready gate) and runs.
      const authed = agentLogTimes(join(sb.dstackHome, 'local', 'agent', 'agent.log'), / ssh: \S+ connected$/).find(
        (t) => t >= applyEnd && t <= end,
      );
      if (authed) marks.push(['agent: ssh client authenticated', authed]);
      marks.push([`ssh NAME true (${tries === 1 ? 'first try' : `${tries} tries`})`, end]);
      for (let k = 1; k < marks.length; k++) add(`${marks[k - 1][0]} → ${marks[k][0]}`, Math.max(0, marks[k][1] - marks[k - 1][1]));
    }
    console.log('  where apply -d → first ssh true goes (medians, ms; daemon steps from its log, to the ms):');
    for (const [k, v] of phases) console.log(`    ${median(v).toFixed(0).padStart(5)}  ${k}`);
    // Any Node CLI pays Node's own start before it can send the configuration, and the container's
    // create + start + first exec can only begin after that: this sum is the floor.
    const nodeStart = median(nodeStarts);
    const floor = nodeStart + median(dockerTimes);
    console.log(
      `  floor: node -e 0 (${nodeStart.toFixed(0)} ms) + docker run -d + docker exec true (${median(dockerTimes).toFixed(0)} ms) = ${floor.toFixed(0)} ms = ${(floor / median(dockerTimes)).toFixed(2)}× the baseline`,
    );
    report({
      name: 'apply -d → first ssh NAME true',
      value: median(applyTimes),
      baseline: median(dockerTimes),
      baselineName: 'docker run -d + docker exec true',
      goal: 1.5,
    });
  } finally {
    for (const id of containers) spawnSync('docker', ['-H', DOCKER_HOST, 'rm', '-f', id], { stdio: 'ignore' });
    await sb.cleanup();
  }
}
