// Live sync, on the local backend with the test Docker engine (the built CLI, daemon and agent):
//  - save → visible on the instance: median of 50 edits of one file in a 5,000-file git repo. The
//    remote side is read directly from the job's code dir on this machine (the agent's
//    jobs/<job>/workflow, which is the container's /workflow), polled every 2 ms. Baseline: what a
//    user would run on each save instead, `rsync -a` of the repo over OpenSSH into the run's own SSH
//    server (`rsync -e 'ssh -F ~/.ssh/config' repo/ NAME:/tmp/rsync-target/`), median of 10.
//  - a branch switch touching 5,000 files (4,000 changed, 500 added, 500 removed, new content each
//    round): from the start of `git checkout` until the instance has all of it (the daemon's log says
//    the batch is committed and the code dir matches), median of 3; baseline: the same switch by
//    `git checkout` then `rsync -a --delete` over OpenSSH into the run, median of 3.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliSandbox, median, report, requireBuilt, requireTestEngine, sh } from './lib.mjs';

const FILES = 5000;
const EDITS = 50;
const ROUNDS = 3;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => Number(process.hrtime.bigint()) / 1e6;

async function until(what, fn, timeoutMs = 300_000, everyMs = 2) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

function writeTree(repo, files) {
  for (const [p, c] of Object.entries(files)) {
    mkdirSync(join(repo, p, '..'), { recursive: true });
    writeFileSync(join(repo, p), c);
  }
}

/** path → sha256 of every file under dir (skipping .git). */
function treeOf(dir) {
  const out = new Map();
  const walk = (rel) => {
    for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
      if (e.name === '.git') continue;
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(p);
      else if (e.isFile())
        out.set(
          p,
          createHash('sha256')
            .update(readFileSync(join(dir, p)))
            .digest('hex'),
        );
    }
  };
  walk('');
  return out;
}

/** treeOf, or an empty map while the agent is replacing files under it. */
function treeNow(dir) {
  try {
    return treeOf(dir);
  } catch {
    return new Map();
  }
}

function sameTree(a, b) {
  if (a.size !== b.size) return false;
  for (const [p, h] of a) if (b.get(p) !== h) return false;
  return true;
}

export default async function bench() {
  requireBuilt();
  await requireTestEngine();
  if (spawnSync('rsync', ['--version'], { stdio: 'ignore' }).status !== 0)
    throw new Error('rsync is not installed (apt-get install rsync)');

  const sb = cliSandbox('sync');
  const { dstackHome, repo, env, dstack, sshConfig } = sb;
  const git = (...args) => sh('git', ['-C', repo, '-c', 'user.name=b', '-c', 'user.email=b@b', ...args], { env, maxBuffer: 1 << 26 });
  const name = `bench-sync-${process.pid}`;
  const rsync = (args) => sh('rsync', ['-a', '-e', `ssh -F ${sshConfig} -o BatchMode=yes`, '--exclude', '.git', ...args], { env });

  // main: 5,000 files in 50 folders; branches b<r> (for live sync) and c<r> (for rsync) each change
  // 4,000 of them, add 500 and remove 500, with content of their own.
  const main = {};
  for (let i = 0; i < FILES; i++) main[`src/m${i % 50}/f${i}.py`] = `# main ${i}\n${'x = 1\n'.repeat(20)}`;
  main['edit.txt'] = 'edit 0\n';
  main['.dstack.yml'] = `type: dev-environment\nname: ${name}\nresources:\n  cpu: 1..\n  memory: 1GB..\n  disk: 1GB..\n`;
  git('init', '-q', '-b', 'main');
  writeTree(repo, main);
  git('add', '-A');
  git('commit', '-qm', 'main');
  for (const b of [...Array.from({ length: ROUNDS }, (_, r) => `b${r}`), ...Array.from({ length: ROUNDS }, (_, r) => `c${r}`)]) {
    git('checkout', '-qb', b, 'main');
    const files = {};
    for (let i = 0; i < 4000; i++) files[`src/m${i % 50}/f${i}.py`] = `# ${b} ${i}\n${'y = 2\n'.repeat(20)}`;
    for (let i = 0; i < 500; i++) files[`src/new${i % 10}/g${i}.py`] = `# ${b} added ${i}\n`;
    writeTree(repo, files);
    git('rm', '-q', ...Array.from({ length: 500 }, (_, i) => `src/m${(4500 + i) % 50}/f${4500 + i}.py`));
    git('add', '-A');
    git('commit', '-qm', b);
  }
  git('checkout', '-q', 'main');

  try {
    dstack(['daemon', 'start']);
    dstack(['apply', '-f', '.dstack.yml', '-y', '-d', '--sync']);
    const run = JSON.parse(dstack(['ps', '--json'])).runs.find((r) => r.name === name);
    const codeDir = join(dstackHome, 'local', 'agent', 'jobs', run.job.jobId, 'workflow');
    const logFile = join(dstackHome, 'daemon.log');
    const synced = () =>
      readFileSync(logFile, 'utf8')
        .split('\n')
        .filter((l) => l.includes(`sync ${name}: delta of`)).length;
    await until('the first sync', () => JSON.parse(dstack(['sync', name, '--status', '--json'])).state === 'watching', 120_000, 200);
    await until('the code dir to match', () => sameTree(treeOf(repo), treeNow(codeDir)), 120_000, 200);

    // 1. save → visible, median of 50 (one warm-up edit first).
    const latencies = [];
    for (let i = 0; i <= EDITS; i++) {
      const content = `edit ${i + 1} ${Date.now()}\n`;
      const t0 = now();
      writeFileSync(join(repo, 'edit.txt'), content);
      await until(
        `edit ${i + 1} on the instance`,
        () => {
          try {
            return readFileSync(join(codeDir, 'edit.txt'), 'utf8') === content;
          } catch {
            return false;
          }
        },
        30_000,
      );
      if (i) latencies.push(now() - t0);
      await sleep(50);
    }
    rsync([`${repo}/`, `${name}:/tmp/rsync-target/`]); // a full first copy, unmeasured
    const rsyncOne = [];
    for (let i = 0; i < 10; i++) {
      writeFileSync(join(repo, 'edit.txt'), `rsync edit ${i} ${Date.now()}\n`);
      const t0 = now();
      rsync([`${repo}/`, `${name}:/tmp/rsync-target/`]);
      rsyncOne.push(now() - t0);
    }
    report({
      name: `save → visible on the instance, median of ${EDITS} edits (${FILES}-file repo; read from the job's code dir on this machine)`,
      value: median(latencies),
      baseline: median(rsyncOne),
      baselineName: 'rsync -a of the repo over OpenSSH after one edit',
    });
    console.log(`  save → visible: min ${Math.min(...latencies).toFixed(0)} ms, max ${Math.max(...latencies).toFixed(0)} ms`);
    const restored = synced();
    git('checkout', '-q', '--', 'edit.txt');
    await until(
      'edit.txt restored on the instance',
      () => synced() > restored && readFileSync(join(codeDir, 'edit.txt'), 'utf8') === main['edit.txt'],
      30_000,
      20,
    );

    // 2. a 5,000-file branch switch, live sync.
    const switches = [];
    for (let r = 0; r < ROUNDS; r++) {
      const before = synced();
      const t0 = now();
      git('checkout', '-q', `b${r}`);
      const checkoutMs = now() - t0;
      const want = treeOf(repo);
      let lines = before;
      let t = 0;
      await until(
        `branch b${r} on the instance`,
        () => {
          const n = synced();
          if (n === lines) return false;
          lines = n;
          t = now();
          return sameTree(want, treeNow(codeDir));
        },
        300_000,
        10,
      );
      switches.push(t - t0);
      console.log(
        `  switch to b${r}: ${(t - t0).toFixed(0)} ms (git checkout ${checkoutMs.toFixed(0)} ms of it) in ${lines - before} batch(es)`,
      );
      for (const l of readFileSync(logFile, 'utf8')
        .split('\n')
        .filter((x) => x.includes(`sync ${name}: delta of`))
        .slice(before)) {
        console.log(`    ${l.replace(/^.*?delta of/, 'delta of')}`);
      }
      git('checkout', '-q', 'main');
      await until('main back on the instance', () => sameTree(treeOf(repo), treeNow(codeDir)), 300_000, 200);
    }
    // The same switches by hand: git checkout, then rsync -a --delete over OpenSSH (sync off).
    dstack(['sync', name, '--stop']);
    const rsyncs = [];
    for (let r = 0; r < ROUNDS; r++) {
      git('checkout', '-q', 'main');
      rsync(['--delete', `${repo}/`, `${name}:/tmp/rsync-target/`]);
      const t0 = now();
      git('checkout', '-q', `c${r}`);
      const checkoutMs = now() - t0;
      rsync(['--delete', `${repo}/`, `${name}:/tmp/rsync-target/`]);
      rsyncs.push(now() - t0);
      console.log(`  switch to c${r} + rsync: ${(now() - t0).toFixed(0)} ms (git checkout ${checkoutMs.toFixed(0)} ms of it)`);
    }
    report({
      name: `branch switch of ${FILES} files: checkout → on the instance, live sync, median of ${ROUNDS}`,
      value: median(switches),
      baseline: median(rsyncs),
      baselineName: 'git checkout + rsync -a --delete over OpenSSH',
    });
    const log = readFileSync(logFile, 'utf8')
      .split('\n')
      .filter((l) => l.includes(`sync ${name}: delta of ${FILES} file(s)`));
    console.log(`  daemon.log, last switch: ${log[log.length - 1]?.replace(/^.*?delta of/, 'delta of') ?? '(none)'}`);
  } finally {
    await sb.cleanup();
  }
}
