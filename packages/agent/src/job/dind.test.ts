// `docker: true`'s dockerd start: the script against stand-in commands on PATH (an image with dstack's
// start-dockerd, one whose daemon already answers, one without Docker), and how its end becomes the
// job's. The dockerd branch runs for real in test/cli/dind.test.ts.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { JobSpec } from '@dstack/core/gen/agent';
import { JobError, type Runtime, type RuntimeJob } from '../runtime/runtime';
import { dockerdScript, startDockerd } from './dind';

const dir = mkdtempSync(join(tmpdir(), 'dstack-dind-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A folder of stand-in commands: name → sh body. */
function bin(name: string, commands: Record<string, string>): string {
  const d = join(dir, name);
  spawnSync('mkdir', ['-p', d]);
  for (const [cmd, body] of Object.entries(commands)) {
    writeFileSync(join(d, cmd), `#!/bin/sh\n${body}\n`);
    chmodSync(join(d, cmd), 0o755);
  }
  return d;
}

/** The script with only `path` and the basics (sh, sleep, kill) on PATH. */
function runScript(path: string, wait = 2) {
  const basics = bin('basics', { sleep: 'exec /bin/sleep "$@"', kill: 'exec /bin/kill "$@"', tail: 'exec /usr/bin/tail "$@"' });
  const r = spawnSync('/bin/sh', ['-c', dockerdScript(wait)], { env: { PATH: `${path}:${basics}` }, encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('the dockerd script', () => {
  it("runs dstack's start-dockerd, then waits until docker answers", () => {
    const flag = join(dir, 'started');
    const path = bin('dstack-dind', {
      'start-dockerd': `echo "start-dockerd ran"; : > ${flag}`,
      docker: `[ -e ${flag} ]`,
    });
    const r = runScript(path);
    expect(r.code).toBe(0);
    expect(r.out).toBe('starting dockerd (start-dockerd)\nstart-dockerd ran\ndockerd is up\n');
  });

  it('leaves a daemon that already answers as it is (an agent restart during init)', () => {
    const path = bin('running', { docker: 'exit 0', 'start-dockerd': 'echo must-not-run; exit 9' });
    expect(runScript(path)).toMatchObject({ code: 0, out: 'dockerd is already running\n' });
  });

  it('says so when the image has neither start-dockerd nor dockerd', () => {
    expect(runScript(bin('plain', {})).code).toBe(69);
  });

  it("passes start-dockerd's failure on, and gives up on a daemon that never answers", () => {
    expect(runScript(bin('failing', { 'start-dockerd': 'exit 3', docker: 'exit 1' })).code).toBe(3);
    expect(runScript(bin('silent', { 'start-dockerd': 'exit 0', docker: 'exit 1' }), 1).code).toBe(71);
  });
});

function fakeRuntime(code: number, kind: 'docker' | 'host' = 'docker') {
  const calls: { command: string; user?: string }[] = [];
  const runtime = {
    kind,
    exec: async (_job: RuntimeJob, command: string, _out: unknown, opts: { user?: string } = {}) => {
      calls.push({ command, user: opts.user });
      return code;
    },
  } as unknown as Runtime;
  const notes: string[] = [];
  const job = { spec: { docker: true, image: 'local/dind:x' } as JobSpec, note: (m: string) => notes.push(m) } as unknown as RuntimeJob;
  return { runtime, job, calls, notes };
}

describe('startDockerd', () => {
  const signal = new AbortController().signal;
  const out = () => {};

  it('runs the script as root for a docker: true job only', async () => {
    const f = fakeRuntime(0);
    await startDockerd(f.runtime, f.job, out, signal);
    expect(f.calls).toEqual([{ command: dockerdScript(), user: '0' }]);
    expect(f.notes).toEqual(['docker: true: starting the Docker daemon in the container']);
    const plain = fakeRuntime(0);
    (plain.job.spec as JobSpec).docker = false;
    await startDockerd(plain.runtime, plain.job, out, signal);
    expect(plain.calls).toEqual([]);
  });

  it.each([
    [
      69,
      'container_error',
      "docker: true: the image local/dind:x has no dockerd (nor dstack's start-dockerd): use a Docker-in-Docker image (config.yml's dind_image)",
    ],
    [70, 'init_failed', 'docker: true: dockerd exited at start (its last lines are in the log above)'],
    [71, 'init_failed', 'docker: true: dockerd did not answer within 60 s'],
    [3, 'init_failed', 'docker: true: start-dockerd failed with exit code 3'],
  ])('exit %d fails the job with %s', async (code, reason, message) => {
    const f = fakeRuntime(code);
    const err = await startDockerd(f.runtime, f.job, out, signal).catch((e) => e);
    expect(err).toBeInstanceOf(JobError);
    expect([err.reason, err.message]).toEqual([reason, message]);
  });

  it('refuses a host-mode job', async () => {
    const f = fakeRuntime(0, 'host');
    await expect(startDockerd(f.runtime, f.job, out, signal)).rejects.toThrow(
      'docker: true runs in a container: this job runs on the host',
    );
  });
});
