// Code upload: a re-apply after one changed file in a 20,000-file git repo, next to the first upload
// of the same repo (goal ≤ 0.05×). Both use the daemon's own code-upload modules (repo listing, the
// SQLite hash cache, manifest → missing blobs → commit) against the real agent executable, whose
// blob cache is what makes the second one cheap. Three lines:
//  - the upload itself (list, hash, manifest, missing blobs) of a re-apply into a new run, next to
//    the same phases of the first upload;
//  - the whole re-apply into a new run, with the agent's commit writing all 20,000 files of the new
//    job's code dir from its cache, next to the whole first upload;
//  - a re-upload into the same job (only the change is written), next to the whole first upload;
//  - a re-apply after the previous job was stopped and removed (what `apply` of the same run does):
//    the agent starts the new job from the tree the old one left, next to the whole first upload.
// Needs `npm run build:agent`; no Docker (the job runs in host mode).
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBundle, median, report, root, time } from './lib.mjs';

const AGENT = join(root, 'dist/agent/dstack-agent-linux-x64');
const FILES = 20_000;

/** The daemon's modules bundled for this script (workspace code inlined, npm packages external). */
function loadDaemonModules() {
  return loadBundle(
    'daemon-upload',
    [
      "export { listRepoFiles } from './packages/daemon/src/code/repo-files.ts';",
      "export { HashCache } from './packages/daemon/src/code/hash-cache.ts';",
      "export { uploadCode } from './packages/daemon/src/code/upload.ts';",
      "export { AgentRpc } from './packages/daemon/src/agent/rpc.ts';",
      "export { openDb } from './packages/daemon/src/state/db.ts';",
    ].join('\n'),
  );
}

function makeRepo(dir) {
  // 200 folders × 100 files of 0.5–4 KB (about 45 MB), committed.
  for (let d = 0; d < FILES / 100; d++) {
    const sub = join(dir, 'src', `pkg${d}`);
    mkdirSync(sub, { recursive: true });
    for (let f = 0; f < 100; f++) {
      const size = 512 + (((d * 100 + f) * 7919) % 3584);
      writeFileSync(join(sub, `mod${f}.py`), `# ${d}/${f}\n${'x = 1\n'.repeat(Math.floor(size / 6))}`);
    }
  }
  const git = (...args) =>
    execFileSync('git', ['-C', dir, '-c', 'user.name=b', '-c', 'user.email=b@b', ...args], { stdio: 'pipe', maxBuffer: 1 << 28 });
  git('init', '-q');
  git('add', '.');
  git('commit', '-q', '-m', 'bench');
}

async function startAgent(dataDir) {
  const socket = join(dataDir, 'agent.sock');
  const proc = spawn(AGENT, ['serve', '--data-dir', dataDir, '--socket', socket, '--log-file', join(dataDir, 'agent.log')], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME ?? '/root', DOCKER_HOST: 'unix:///nonexistent/docker.sock' },
    stdio: 'ignore',
  });
  return { proc, socket };
}

export default async function bench() {
  const m = await loadDaemonModules();
  const tmp = mkdtempSync(join(tmpdir(), 'dstack-bench-upload-'));
  const repo = join(tmp, 'repo');
  mkdirSync(repo);
  makeRepo(repo);
  const { proc, socket } = await startAgent(join(tmp, 'agent'));
  const rpc = new m.AgentRpc(`unix://${socket}`);
  try {
    for (let i = 0; ; i++) {
      try {
        await rpc.handshake({ daemonVersion: 'bench', protocolVersion: 1 }, 1000);
        break;
      } catch (err) {
        if (i > 120) throw err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    const cache = new m.HashCache(m.openDb(join(tmp, 'state.db')));
    let jobs = 0;
    const newJob = async () => {
      const jobId = `bench-${++jobs}`;
      await rpc.submitJob({
        jobId,
        runName: jobId,
        repoId: 'bench',
        runtime: 'host',
        image: '',
        privileged: false,
        env: {},
        init: [],
        workingDir: '',
        user: '',
        shell: '',
        shmSizeGb: 0,
        authorizedKeys: [],
        expectCode: true,
        labels: {},
        sshPort: 0,
        mounts: [],
      });
      return jobId;
    };
    /** What apply does for the code: list, hash (cached), manifest → missing blobs → commit. */
    const upload = async (jobId) => {
      const t0 = Date.now();
      const listing = await m.listRepoFiles(repo);
      const { files } = await cache.hash(listing.files);
      const scanMs = Date.now() - t0;
      return { ...(await m.uploadCode(rpc, jobId, files)), scanMs };
    };

    const firstJob = await newJob();
    let first;
    const firstMs = await time(async () => (first = await upload(firstJob)));
    const firstTransferMs = firstMs - first.commitMs;
    if (first.files !== FILES || first.sentBlobs < FILES * 0.9)
      throw new Error(`first upload sent ${first.sentBlobs} of ${first.files} files`);

    const change = (i) => writeFileSync(join(repo, 'src', 'pkg7', 'mod3.py'), `# changed ${i}\n`);
    const newRun = [];
    const newRunTransfer = [];
    const parts = [];
    const sameJob = [];
    for (let i = 0; i < 3; i++) {
      change(i);
      const job = await newJob();
      let res;
      newRun.push(await time(async () => (res = await upload(job))));
      newRunTransfer.push(newRun[newRun.length - 1] - res.commitMs);
      parts.push(res);
      if (res.sentBlobs !== 1) throw new Error(`re-apply sent ${res.sentBlobs} blobs, expected 1`);
      change(100 + i);
      sameJob.push(await time(async () => (res = await upload(job))));
      if (res.sentBlobs !== 1 || res.written !== 1) throw new Error(`same-job re-upload sent ${res.sentBlobs} blobs, wrote ${res.written}`);
    }
    // A re-apply of the same run (override) or after `dstack stop`: the previous job is stopped and
    // removed first, and the agent keeps its tree for the next job of the repo.
    const reuse = [];
    const reuseParts = [];
    let prev = `bench-${jobs}`;
    for (let i = 0; i < 3; i++) {
      change(200 + i);
      await rpc.stopJob({ jobId: prev, abort: true, graceSeconds: 0 });
      await rpc.removeJob(prev);
      const job = await newJob();
      let res;
      reuse.push(await time(async () => (res = await upload(job))));
      reuseParts.push(res);
      if (res.sentBlobs !== 1 || res.written > 2)
        throw new Error(`re-apply after the previous job was removed sent ${res.sentBlobs} blobs, wrote ${res.written}`);
      prev = job;
    }
    const mid = (k) => median(parts.map((p) => p[k]));
    console.log(
      `  re-apply (new run), median parts: list+hash ${mid('scanMs')} ms (daemon), PutManifest ${mid('manifestMs')} ms, ` +
        `blob ${mid('transferMs') - mid('manifestMs')} ms, CommitCode ${mid('commitMs')} ms (agent)`,
    );
    const what = `${FILES} files, ${(first.bytes / 1024 / 1024).toFixed(0)} MB`;
    report({
      name: 're-apply upload after one change (new run, no commit)',
      value: median(newRunTransfer),
      baseline: firstTransferMs,
      baselineName: `first upload (${what}, no commit)`,
      goal: 0.05,
    });
    report({
      name: 're-apply after one change, with the commit of 20,000 files (new run)',
      value: median(newRun),
      baseline: firstMs,
      baselineName: `first upload (${what}) with its commit`,
      goal: 0.05,
    });
    console.log(
      `  re-apply (previous job removed, its tree reused), median CommitCode ${median(reuseParts.map((p) => p.commitMs))} ms (agent)`,
    );
    report({
      name: 're-apply after one change, the previous job removed (its tree reused)',
      value: median(reuse),
      baseline: firstMs,
      baselineName: `first upload (${what}) with its commit`,
      goal: 0.05,
    });
    report({
      name: 're-upload after one change (same job)',
      value: median(sameJob),
      baseline: firstMs,
      baselineName: `first upload (${what}) with its commit`,
      goal: 0.05,
    });
  } finally {
    await rpc.shutdown(false).catch(() => {});
    rpc.close();
    await new Promise((r) => {
      if (proc.exitCode !== null) return r();
      const t = setTimeout(() => {
        proc.kill('SIGKILL');
        r();
      }, 10_000);
      proc.once('exit', () => {
        clearTimeout(t);
        r();
      });
    });
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await bench();
