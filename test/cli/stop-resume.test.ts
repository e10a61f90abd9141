// Stop and resume with state, end to end with real parts (this machine's backend, the test Docker
// engine, OpenSSH): `dstack stop` keeps the run's container and lists what changed under /workflow on
// the instance; `dstack sync NAME --pull` brings those edits home and keeps a conflicting local edit
// (the instance's version beside it, as live sync names it); `dstack start` resumes in the same
// container with what was installed (a package installed with pip) and the instance's edits,
// merging the local edits made meanwhile, also after the daemon and this machine's agent went away;
// `dstack apply` of the same configuration resumes too, and of another one starts afresh;
// `dstack delete` and `dstack stop -x` remove the kept container (asked of the engine).
//
// The first case runs in the Debian test image plus Debian's python3-pip (made once with apt-get from
// the machine's mirror, cached): a local package from the repo is `pip install`ed (no index: nothing
// can be downloaded here) into the interpreter's dist-packages, outside /workflow, in the container's
// own layer: what a stop must keep.
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { docker } from '../harness/docker';
import { ensurePipImage } from '../harness/images';
import { waitFor } from '../harness/util';
import { dstack, getRun, gitRepo, hasHostBlock, mustDstack, runName, sandbox, ssh, waitForRun, type Sandbox } from './helpers';

let sb: Sandbox;
let pipImage: string;
beforeAll(async () => {
  sb = sandbox('stop-resume');
  pipImage = await ensurePipImage(inject('debianImage'));
}, 15 * 60_000);
afterAll(async () => {
  await sb.cleanup();
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The engine's view of a container: undefined when it is gone. */
async function container(id: string): Promise<{ running: boolean } | undefined> {
  const res = await docker(['ps', '-a', '-q', '--no-trunc', '--filter', `id=${id}`]);
  if (!res.stdout.trim()) return undefined;
  const state = await docker(['inspect', '-f', '{{.State.Running}}', id]);
  return { running: state.stdout.trim() === 'true' };
}

interface KeptJson {
  status: string;
  job?: { containerId?: string };
  kept?: {
    instanceName?: string;
    containerId?: string;
    sizeBytes?: string;
    cost?: string;
    remoteChanges?: { path: string; change: string }[];
  };
}

describe('dstack stop, dstack sync --pull, dstack start', () => {
  it('stop keeps the container and lists remote edits; pull brings them home; start resumes with the package; delete removes it', async () => {
    const name = runName('resume');
    const repo = await gitRepo(sb, ['type: dev-environment', `name: ${name}`, `image: ${pipImage}`, ''].join('\n'));
    mkdirSync(join(repo, 'pkg'));
    writeFileSync(join(repo, 'pkg', 'kept_pkg.py'), 'VALUE = "installed-before-stop"\n');
    writeFileSync(
      join(repo, 'pkg', 'setup.py'),
      "from setuptools import setup\nsetup(name='kept-pkg', version='1.0', py_modules=['kept_pkg'])\n",
    );
    writeFileSync(join(repo, 'train.py'), 'print("v1")\n');
    writeFileSync(join(repo, 'both.txt'), 'base\n');
    writeFileSync(join(repo, '.gitignore'), 'ignored.txt\n__pycache__/\n');

    const apply = await dstack(sb, ['apply', '-f', '.dstack.yml', '-y', '-d'], { cwd: repo });
    expect(apply.code, apply.stderr + apply.stdout).toBe(0);
    // Installed with pip, outside /workflow; edits under /workflow.
    const work = await ssh(
      sb,
      name,
      [
        'set -e',
        // Debian marks its python externally managed (PEP 668): a system-wide install says so.
        // Built from a copy: pip builds in the source tree, which would be a remote edit of /workflow.
        'cp -r /workflow/pkg /tmp/pkg',
        'pip install -q --break-system-packages --no-index --no-build-isolation /tmp/pkg >/dev/null',
        'pip show -q kept-pkg >/dev/null',
        'python3 -c "import kept_pkg; print(kept_pkg.VALUE)"',
        'echo "print(\\"edited on the instance\\")" >> /workflow/train.py',
        'echo remote-side > /workflow/both.txt',
        'echo made-remotely > /workflow/made-remote.txt',
        'mkdir -p /workflow/__pycache__ && echo cache > /workflow/__pycache__/m.pyc && echo cache > /workflow/ignored.txt',
      ].join('\n'),
    );
    expect(work.code, work.stderr).toBe(0);
    expect(work.stdout).toBe('installed-before-stop\n');
    const before = (await getRun(sb, name)) as KeptJson;
    const containerId = before.job?.containerId ?? '';
    expect(containerId).not.toBe('');

    // Stop: the job ends, its container stays (stopped), and the remote edits are listed.
    const stop = await dstack(sb, ['stop', name, '-y']);
    expect(stop.code, stop.stderr).toBe(0);
    expect(stop.stdout).toMatch(new RegExp(`^Run ${name} stopped \\(stopped_by_user\\)$`, 'm'));
    expect(stop.stdout).toContain('Its container is kept on local (');
    expect(stop.stdout).toContain(`\`dstack start ${name}\` resumes it`);
    expect(stop.stdout).toMatch(/^ {2}modified {2}both\.txt$/m);
    expect(stop.stdout).toMatch(/^ {2}modified {2}train\.py$/m);
    expect(stop.stdout).toMatch(/^ {2}added {5}made-remote\.txt$/m);
    expect(stop.stdout).toContain(`Bring them home with \`dstack sync ${name} --pull\``);
    // What the repo ignores (a file in .gitignore, a __pycache__) is not the user's edit: not listed.
    expect(stop.stdout).not.toContain('ignored.txt');
    expect(stop.stdout).not.toContain('__pycache__');
    expect(await container(containerId)).toEqual({ running: false });
    expect(hasHostBlock(sb, name)).toBe(false);
    const stopped = (await getRun(sb, name)) as KeptJson;
    expect(stopped.status).toBe('stopped');
    expect(stopped.kept).toMatchObject({ instanceName: 'local', containerId, cost: 'disk only, on this machine ($0/h)' });
    expect(Number(stopped.kept?.sizeBytes)).toBeGreaterThan(0);
    // Listed without -a (it holds a container), with what it keeps under -v.
    expect((await mustDstack(sb, ['ps'])).stdout).toMatch(new RegExp(`^ ${name} +local .* \\$0 +stopped `, 'm'));
    expect((await mustDstack(sb, ['ps', '-v'])).stdout).toContain('(keeps its container');

    // A local edit of a file the instance changed too, and one of a file only this side changed.
    writeFileSync(join(repo, 'both.txt'), 'local-side\n');
    writeFileSync(join(repo, 'local-new.txt'), 'made locally while stopped\n');

    // Pull: the instance's edits come home; the file changed on both sides stays local, the instance's
    // version beside it; the ignored file stays on the instance. A conflict is exit code 1.
    const pull = await dstack(sb, ['sync', name, '--pull', '--json'], { cwd: repo });
    expect(pull.code, pull.stderr).toBe(1);
    const res = JSON.parse(pull.stdout) as { pulled?: { path: string; action: string }[]; conflicts?: { path: string; keptAs: string }[] };
    expect(res.pulled?.map((p) => [p.path, p.action]).sort()).toEqual([
      ['made-remote.txt', 'written'],
      ['train.py', 'written'],
    ]);
    expect(res.conflicts).toEqual([{ path: 'both.txt', keptAs: 'both.txt.remote-conflict' }]);
    expect(readFileSync(join(repo, 'train.py'), 'utf8')).toBe('print("v1")\nprint("edited on the instance")\n');
    expect(readFileSync(join(repo, 'made-remote.txt'), 'utf8')).toBe('made-remotely\n');
    expect(readFileSync(join(repo, 'both.txt'), 'utf8')).toBe('local-side\n');
    expect(readFileSync(join(repo, 'both.txt.remote-conflict'), 'utf8')).toBe('remote-side\n');
    expect(readFileSync(join(repo, 'ignored.txt'), 'utf8')).toBe('ignored-content\n');
    // Pulling again adds nothing: the kept version is there already.
    const again = await dstack(sb, ['sync', name, '--pull'], { cwd: repo });
    expect(again.code).toBe(1);
    expect(again.stdout).toContain("conflict  both.txt: changed here too, kept as is; the instance's version is both.txt.remote-conflict");
    expect(existsSync(join(repo, 'both.txt.remote-conflict.2'))).toBe(false);

    // Start: the same container, the package still installed, the instance's edits kept, and the
    // local edits made meanwhile merged in (both.txt: the local version; the instance's kept aside).
    // The daemon goes away meanwhile (a laptop closed): this machine's agent stops with it (no run
    // needs it), and the next start brings both back; the kept container waits in the engine.
    const agentPid = Number(readFileSync(join(sb.dstackHome, 'local', 'agent', 'agent.pid'), 'utf8').trim());
    await mustDstack(sb, ['daemon', 'stop']);
    await waitFor('the local agent to exit', () => !alive(agentPid), { timeoutMs: 60_000 });
    expect(await container(containerId)).toEqual({ running: false });
    const start = await dstack(sb, ['start', name]);
    expect(start.code, start.stderr + start.stdout).toBe(0);
    expect(start.stdout).toContain(`Resuming \`${name}\` in its kept container...`);
    const resumed = (await getRun(sb, name)) as KeptJson;
    expect(resumed.status).toBe('running');
    expect(resumed.job?.containerId).toBe(containerId);
    const after = await ssh(
      sb,
      name,
      'python3 -c "import kept_pkg; print(kept_pkg.VALUE)"; cat /workflow/train.py /workflow/both.txt /workflow/both.txt.remote-conflict /workflow/local-new.txt /workflow/made-remote.txt',
    );
    expect(after.code, after.stderr).toBe(0);
    expect(after.stdout).toBe(
      'installed-before-stop\nprint("v1")\nprint("edited on the instance")\nlocal-side\nremote-side\nmade locally while stopped\nmade-remotely\n',
    );
    expect(await container(containerId)).toEqual({ running: true });

    // Stop again, then delete: the kept container goes.
    expect((await dstack(sb, ['stop', name, '-y'])).code).toBe(0);
    expect(await container(containerId)).toEqual({ running: false });
    const del = await dstack(sb, ['delete', name, '-y']);
    expect(del.code, del.stderr).toBe(0);
    expect(del.stdout).toBe(`Run ${name} deleted, its kept container removed\n`);
    expect(await container(containerId)).toBeUndefined();
    expect(await getRun(sb, name)).toBeUndefined();
  });

  it('apply of the same configuration resumes a stopped run in its container; a changed one starts it fresh', async () => {
    const name = runName('reapply');
    const dir = join(sb.dir, 'reapply');
    mkdirSync(dir);
    const file = (extra: string[]) =>
      writeFileSync(join(dir, '.dstack.yml'), ['type: dev-environment', `name: ${name}`, ...extra, ''].join('\n'));
    const apply = () => dstack(sb, ['apply', '-f', '.dstack.yml', '-y', '-d', '--no-repo'], { cwd: dir });
    file([]);
    expect((await apply()).code).toBe(0);
    expect((await ssh(sb, name, 'echo installed > /root/marker')).code).toBe(0);
    const id = ((await getRun(sb, name)) as KeptJson).job?.containerId ?? '';
    expect(id).not.toBe('');
    expect((await dstack(sb, ['stop', name, '-y'])).code).toBe(0);

    const again = await apply();
    expect(again.code, again.stderr + again.stdout).toBe(0);
    expect(again.stdout).toContain(`Run ${name} is stopped with its container kept: it resumes in it, on local.`);
    expect(((await getRun(sb, name)) as KeptJson).job?.containerId).toBe(id);
    expect((await ssh(sb, name, 'cat /root/marker')).stdout).toBe('installed\n');
    expect((await dstack(sb, ['stop', name, '-y'])).code).toBe(0);

    // Another configuration needs another container: the kept one goes, the run starts anew.
    file(['env:', '  - CHANGED=1']);
    const fresh = await apply();
    expect(fresh.code, fresh.stderr + fresh.stdout).toBe(0);
    expect(fresh.stdout).toContain(
      `Run ${name} is stopped with its container kept. Detected configuration changes that need a new container: ['env']`,
    );
    expect(await container(id)).toBeUndefined();
    const now = (await waitForRun(sb, name, (r) => !!r.job?.containerId, 'naming its container')) as KeptJson;
    expect(now.job?.containerId).not.toBe(id);
    expect((await ssh(sb, name, 'test -e /root/marker && echo kept || echo fresh; echo $CHANGED')).stdout).toBe('fresh\n1\n');
    expect((await dstack(sb, ['stop', name, '-x', '-y'])).code).toBe(0);
  });

  it("stop -x ends a run for good (dstack's abort), also a stopped one; a run with nothing kept, or whose container is gone, cannot start", async () => {
    const name = runName('abort');
    const dir = join(sb.dir, 'abort');
    mkdirSync(dir);
    writeFileSync(join(dir, '.dstack.yml'), `type: dev-environment\nname: ${name}\n`);
    expect((await dstack(sb, ['apply', '-f', '.dstack.yml', '-y', '-d', '--no-repo'], { cwd: dir })).code).toBe(0);
    const first = (await waitForRun(sb, name, (r) => !!r.job?.containerId, 'naming its container')) as KeptJson;
    const id1 = first.job?.containerId ?? '';
    expect((await dstack(sb, ['stop', name, '-y'])).code).toBe(0);
    expect(await container(id1)).toEqual({ running: false });
    const x = await dstack(sb, ['stop', name, '-x', '-y']);
    expect(x.code, x.stderr).toBe(0);
    expect(x.stdout).toBe(`Run ${name} ended for good: its kept container is removed\n`);
    expect(await container(id1)).toBeUndefined();
    expect((await getRun(sb, name))?.status).toBe('terminated');
    const nothing = await dstack(sb, ['start', name]);
    expect(nothing.code).toBe(1);
    expect(nothing.stderr).toContain(`run ${name} is terminated: it kept nothing to start again`);

    // A fresh apply of the same name; -x on a running run removes its container at once.
    expect((await dstack(sb, ['apply', '-f', '.dstack.yml', '-y', '-d', '--no-repo'], { cwd: dir })).code).toBe(0);
    const second = (await waitForRun(
      sb,
      name,
      (r) => r.status === 'running' && !!r.job?.containerId && r.job.containerId !== id1,
      'running anew',
    )) as KeptJson;
    const id2 = second.job?.containerId ?? '';
    expect(id2).not.toBe(id1);
    const abort = await dstack(sb, ['stop', name, '-x', '-y']);
    expect(abort.code, abort.stderr).toBe(0);
    expect(abort.stdout).toMatch(new RegExp(`^Run ${name} aborted \\(aborted_by_user\\)$`, 'm'));
    expect(await container(id2)).toBeUndefined();

    // A kept container removed behind dstack's back: start says so, and the run ends with that reason.
    expect((await dstack(sb, ['apply', '-f', '.dstack.yml', '-y', '-d', '--no-repo'], { cwd: dir })).code).toBe(0);
    const third = (await waitForRun(
      sb,
      name,
      (r) => r.status === 'running' && !!r.job?.containerId && r.job.containerId !== id2,
      'running anew',
    )) as KeptJson;
    const id3 = third.job?.containerId ?? '';
    expect((await dstack(sb, ['stop', name, '-y'])).code).toBe(0);
    await docker(['rm', '-f', id3]);
    const lost = await dstack(sb, ['start', name]);
    expect(lost.code).toBe(1);
    expect(lost.stderr).toContain('is gone from the instance (removed outside dstack?)');
    expect((await getRun(sb, name))?.status).toBe('failed');
  });
});
