// apply → first successful `ssh NAME true`, next to what the same image takes with Docker alone:
// `docker run -d --network host IMAGE` + `docker exec CONTAINER true`, measured in the same run on
// the test engine (goal ≤ 1.5×). The daemon is started once before timing (a user's daemon is
// already up); each apply is a fresh run of a small git repo, stopped after it is measured. The CLI's
// own phases (DSTACK_TRACE) of the measured applies are printed too, medians in ms since its start.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DOCKER_HOST, TEST_IMAGE, cliSandbox, docker, median, report, requireBuilt, requireTestEngine, root, sh, time } from './lib.mjs';

/** Retries fn (sync, true on success) until it succeeds; throws after timeoutMs. */
async function until(what, fn, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export default async function bench() {
  requireBuilt();
  await requireTestEngine();
  const sb = cliSandbox('apply');
  sh('git', ['-C', sb.repo, 'init', '-q']);
  writeFileSync(join(sb.repo, 'train.py'), 'print("hello")\n');
  const sshOk = (name) => spawnSync('ssh', ['-F', sb.sshConfig, '-o', 'BatchMode=yes', name, 'true'], { env: sb.env, stdio: 'ignore' }).status === 0;

  const containers = [];
  try {
    sb.dstack(['daemon', 'start']);
    // One unmeasured round each to warm caches (agent upload, image layers), then five measured.
    const applyTimes = [];
    const dockerTimes = [];
    const phases = new Map();
    for (let i = 0; i < 6; i++) {
      const name = `bench-${process.pid}-${i}`;
      writeFileSync(join(sb.repo, '.dstack.yml'), `type: dev-environment\nname: ${name}\n`);
      let trace = '';
      const ms = await time(async () => {
        const apply = spawnSync(process.execPath, [join(root, 'dist/cli.cjs'), 'apply', '-f', '.dstack.yml', '-y', '-d'], {
          env: { ...sb.env, DSTACK_TRACE: '1' },
          cwd: sb.repo,
          encoding: 'utf8',
        });
        if (apply.status !== 0) throw new Error(`dstack apply failed (${apply.status}): ${apply.stderr}`);
        trace = apply.stderr;
        await until(`ssh ${name} true`, () => sshOk(name));
      });
      sb.dstack(['stop', name, '-x', '-y']);
      if (i > 0) {
        applyTimes.push(ms);
        for (const m of trace.matchAll(/^\[trace (\d+) ms\] (.*)$/gm)) phases.set(m[2], [...(phases.get(m[2]) ?? []), Number(m[1])]);
      }

      const dms = await time(async () => {
        const id = docker(['run', '-d', '--network', 'host', TEST_IMAGE, 'sleep', 'infinity']).trim();
        containers.push(id);
        await until('docker exec true', () => spawnSync('docker', ['-H', DOCKER_HOST, 'exec', id, 'true'], { stdio: 'ignore' }).status === 0);
      });
      spawnSync('docker', ['-H', DOCKER_HOST, 'rm', '-f', containers.pop()], { stdio: 'ignore' });
      if (i > 0) dockerTimes.push(dms);
    }
    console.log(`  CLI phases (median ms since its start): ${[...phases].map(([k, v]) => `${k} ${median(v)}`).join(', ')}`);
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
