// The slurm backend against real Slurm daemons (slurm-cluster.ts: a login node and two compute
// nodes in network namespaces, one with a GPU gres, a shared home). The daemon reaches the login node
// as a user would (its host key in ~/.ssh/known_hosts), submits sbatch jobs, and reaches the agent in
// the job, and `ssh NAME` the job, through the login node as the jump host.
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dstack, getRun, gitRepo, mustDstack, runName, sandbox, ssh, waitForRun, type Sandbox } from '../cli/helpers';
import { waitFor } from '../harness/util';
import { createSlurmCluster, type SlurmCluster } from './slurm-cluster';

/** A dev environment on the slurm backend only; `extra` lines follow. */
function devEnv(name: string, extra: string[] = []): string {
  return `${['type: dev-environment', `name: ${name}`, 'backends: [slurm]', 'resources:', '  cpu: 1..', '  memory: 1GB..', '  disk: 1GB..', ...extra].join('\n')}\n`;
}

describe('slurm backend', () => {
  let cluster: SlurmCluster;
  let sb: Sandbox;
  let repo: string;

  beforeAll(async () => {
    cluster = await createSlurmCluster();
    // No Docker engine: the local backend runs in host mode beside the cluster.
    sb = sandbox('slurm', { dockerHost: 'unix:///nonexistent' });
    mkdirSync(join(sb.home, '.ssh'), { recursive: true, mode: 0o700 });
    appendFileSync(join(sb.home, '.ssh', 'known_hosts'), `${cluster.login.address} ${cluster.loginHostKey}\n`);
    appendFileSync(
      join(sb.dstackHome, 'config.yml'),
      [
        // A lost agent is noticed through Slurm (the job's NODE_FAIL), not by this grace period.
        'instance_unreachable_after: 10m',
        // The orphan sweep looks every 10 s and cancels what stayed unowned 10 s.
        'cloud_boot_timeout: 10s',
        'backends:',
        '  - type: slurm',
        '    clusters:',
        '      - name: lab',
        `        hostname: ${cluster.login.address}`,
        '        user: root',
        '        private_key:',
        `          path: ${cluster.keyPath}`,
        '    pending_timeout: 10m',
        '',
      ].join('\n'),
    );
    repo = await gitRepo(sb, devEnv('unused'));
  });

  afterAll(async () => {
    await sb?.cleanup();
    await cluster?.destroy();
  });

  const squeue = async () => (await cluster.sh("squeue -h -o '%i|%j|%T|%r|%N'")).stdout;

  it('lists the cluster beside the other backends, and what it has free of its total', async () => {
    const res = await mustDstack(sb, ['offer', '--json'], { timeoutMs: 120_000 });
    const offers = JSON.parse(res.stdout).offers as {
      backend: string;
      region: string;
      instanceType?: string;
      resources: { gpus?: { name: string }[] };
    }[];
    expect(offers.map((o) => o.backend)).toEqual(expect.arrayContaining(['slurm', 'local']));
    const slurm = offers.filter((o) => o.backend === 'slurm');
    expect(slurm.map((o) => `${o.region}/${o.instanceType}`).sort()).toEqual(['lab/cpu', 'lab/gpu']);
    // --gpu narrows to the partition whose node has one.
    const gpu = JSON.parse((await mustDstack(sb, ['offer', '--json', '--gpu', 'H100'], { timeoutMs: 120_000 })).stdout).offers.filter(
      (o: { backend: string }) => o.backend === 'slurm',
    );
    expect(gpu.map((o: { instanceType: string }) => o.instanceType)).toEqual(['gpu']);
    expect(gpu[0].resources.gpus[0].name).toBe('H100');

    const list = JSON.parse((await mustDstack(sb, ['backend', 'list', '--json'], { timeoutMs: 120_000 })).stdout).backends;
    const entry = list.find((b: { type: string }) => b.type === 'slurm');
    expect(entry.status).toBe('ok');
    expect(entry.regions).toEqual(['lab']);
    expect(entry.message).toMatch(/cpu1 \(cpu, idle\): CPU 4\/4, memory 15\/15GB free/);
    expect(entry.message).toMatch(/gpu1 \(gpu, idle\): CPU 4\/4, memory 15\/15GB, GPU 1\/1 h100 free/);
  });

  it('refuses an image at plan time: a job on Slurm runs on the host', async () => {
    writeFileSync(join(repo, 'img.dstack.yml'), devEnv(runName('slimg'), ['image: ubuntu:24.04']));
    const res = await dstack(sb, ['apply', '-f', 'img.dstack.yml', '-y', '-d'], { cwd: repo, timeoutMs: 120_000 });
    expect(res.code).not.toBe(0);
    expect(res.stdout + res.stderr).toContain(
      'slurm: image: ubuntu:24.04 cannot run there: its jobs run on the host (no container runtime)',
    );
    expect(await squeue()).toBe('');
  });

  it('waits in the queue as pending (Resources) while another job holds the GPU node, runs once it frees, ssh lands on the node with Slurm’s GPU variables, stop cancels the job', async () => {
    // Someone else's job holds the only GPU.
    const hold = await cluster.sh("cd /root && sbatch --parsable -p gpu --gres=gpu:h100:1 -J someone-else --wrap 'sleep 600'");
    expect(hold.code, hold.stderr).toBe(0);
    const holdId = hold.stdout.trim();
    await waitFor('the holding job to run', async () => (await squeue()).includes(`${holdId}|someone-else|RUNNING`), { timeoutMs: 30_000 });
    try {
      await queuedRuns(holdId);
    } finally {
      await cluster.sh(`scancel ${holdId}`);
    }
  }, 420_000);

  const queuedRuns = async (holdId: string) => {
    // A daemon stopped while a job waits finds it again by name (no second job); a run stopped while
    // its job waits has the job cancelled (by the orphan sweep: every 10 s here).
    const stopped = runName('slstop');
    writeFileSync(join(repo, 'stop.dstack.yml'), devEnv(stopped, ['  gpu: H100:1']));
    const applyStopped = dstack(sb, ['apply', '-f', 'stop.dstack.yml', '-y', '-d'], { cwd: repo, timeoutMs: 300_000 });
    await waitForRun(sb, stopped, (r) => r.statusMessage === 'pending (Resources)', 'pending (Resources)', 60_000);
    const stoppedJob = (await squeue())
      .split('\n')
      .find((l) => l.includes(`-${stopped}-0|`))!
      .split('|')[0];
    await mustDstack(sb, ['daemon', 'stop'], { timeoutMs: 60_000 });
    expect((await getRun(sb, stopped))?.status).toBe('provisioning'); // starts the daemon again
    const adopted = new RegExp(`adopting job dstack-[0-9a-f]{8}-${stopped}-0 \\(${stoppedJob}\\)`);
    await waitFor('the new daemon to find the job by name', () => adopted.test(readFileSync(join(sb.dstackHome, 'daemon.log'), 'utf8')), {
      timeoutMs: 60_000,
      intervalMs: 1000,
    });
    expect((await squeue()).split('\n').filter((l) => l.includes(`-${stopped}-0|`))).toEqual([
      expect.stringMatching(new RegExp(`^${stoppedJob}\\|`)),
    ]);
    await mustDstack(sb, ['stop', stopped, '-y'], { timeoutMs: 120_000 });
    await waitFor('the stopped run’s job to leave squeue', async () => !(await squeue()).includes(`${stoppedJob}|`), { timeoutMs: 60_000 });
    expect((await getRun(sb, stopped))?.status).toBe('terminated');
    // The apply that waited for it (across the daemon's restart) ends with it.
    await applyStopped;

    const name = runName('slgpu');
    writeFileSync(join(repo, 'gpu.dstack.yml'), devEnv(name, ['  gpu: H100:1', 'max_duration: 2h']));
    // apply -d returns once the run is up: it waits while the job is queued.
    const applying = dstack(sb, ['apply', '-f', 'gpu.dstack.yml', '-y', '-d'], { cwd: repo, timeoutMs: 300_000 });
    const pending = await waitForRun(sb, name, (r) => r.statusMessage === 'pending (Resources)', 'pending (Resources)', 60_000);
    expect(pending.status).toBe('provisioning');
    const ps = await mustDstack(sb, ['ps'], { timeoutMs: 60_000 });
    expect(ps.stdout).toContain('provisioning: pending (Resources)');
    // The job is in Slurm's queue under this daemon's prefix, with the run's resources and max_duration.
    const queued = (await squeue()).split('\n').find((l) => l.includes(`-${name}-0|`));
    expect(queued).toMatch(/^\d+\|dstack-[0-9a-f]{8}-.*\|PENDING\|Resources\|$/);
    const jobId = queued!.split('|')[0];
    const job = (await cluster.sh(`scontrol show job -o ${jobId}`)).stdout;
    expect(job).toMatch(/Partition=gpu /);
    expect(job).toMatch(/TimeLimit=02:00:00 /);
    expect(job).toMatch(/TresPerNode=gres:gpu:h100:1/);

    await cluster.sh(`scancel ${holdId}`);
    const apply = await applying;
    expect(apply.code, apply.stderr + apply.stdout).toBe(0);
    expect((await getRun(sb, name))?.status).toBe('running');
    expect(await squeue()).toContain(`${jobId}|`);

    // ssh NAME: the job's SSH server on the node, through the login node; Slurm's variables as it set them.
    const res = await ssh(sb, name, 'hostname; echo "cuda=$CUDA_VISIBLE_DEVICES gpus=$SLURM_JOB_GPUS job=$SLURM_JOB_ID"', {
      timeoutMs: 60_000,
    });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toBe(`gpu1\ncuda=0 gpus=0 job=${jobId}\n`);

    await mustDstack(sb, ['stop', name, '-y'], { timeoutMs: 120_000 });
    await waitFor('the job to leave squeue', async () => !(await squeue()).includes(`${jobId}|`), { timeoutMs: 60_000 });
    const run = await getRun(sb, name);
    expect(run?.status).toBe('terminated');
    // Its folder on the shared home goes with it; the agent executable stays for the next job.
    const jobName = queued!.split('|')[1];
    await waitFor('the job’s folder to be removed', () => !existsSync(join(cluster.homeDir, '.dstack-agent/slurm', jobName)), {
      timeoutMs: 60_000,
      intervalMs: 1000,
    });
    expect(existsSync(join(cluster.homeDir, '.dstack-agent/bin/dstack-agent'))).toBe(true);
  };

  const startOnCpu = async (name: string, extra: string[] = []) => {
    writeFileSync(join(repo, `${name}.dstack.yml`), devEnv(name, extra));
    const apply = await dstack(sb, ['apply', '-f', `${name}.dstack.yml`, '-y', '-d'], { cwd: repo, timeoutMs: 300_000 });
    expect(apply.code, apply.stderr + apply.stdout).toBe(0);
    expect((await getRun(sb, name))?.status).toBe('running');
    const line = (await squeue()).split('\n').find((l) => l.includes(`-${name}-0|`))!;
    expect(line).toMatch(/\|RUNNING\|None\|cpu1$/);
    return line.split('|')[0];
  };

  it('a compute node cut off mid-run: the job NODE_FAILs and the run ends with an interruption', async () => {
    const name = runName('slnode');
    const jobId = await startOnCpu(name);
    await cluster.linkDown(cluster.cpu);
    try {
      const ended = await waitFor(
        'the run to end',
        async () => {
          const r = await getRun(sb, name);
          return r && ['failed', 'terminated', 'done'].includes(r.status) ? r : undefined;
        },
        { timeoutMs: 240_000, intervalMs: 2000 },
      );
      expect(ended.terminationReason).toBe('interrupted_by_no_capacity');
      expect(ended.statusMessage).toContain(`(${jobId}) on cpu1 is NODE_FAIL`);
    } finally {
      await cluster.linkUp(cluster.cpu);
    }
    await waitFor('cpu1 back in service', async () => /^cpu1 idle$/m.test((await cluster.sh('sinfo -h -N -o "%N %t"')).stdout), {
      timeoutMs: 120_000,
      intervalMs: 2000,
    });
  }, 420_000);

  it('with retry on interruption, the run is resubmitted as a new job, which Slurm places on a node that is up', async () => {
    const name = runName('slretry');
    const firstId = await startOnCpu(name, ['retry:', '  on_events: [interruption]', '  duration: 30m']);
    await cluster.linkDown(cluster.cpu);
    try {
      // cpu1 is down, so its partition is not offered: the new job goes to the other one.
      const next = await waitFor(
        'a new job for the run, running on gpu1',
        async () =>
          (await squeue())
            .split('\n')
            .find((l) => l.includes(`-${name}-0|`) && !l.startsWith(`${firstId}|`) && l.endsWith('|RUNNING|None|gpu1')),
        { timeoutMs: 240_000, intervalMs: 2000 },
      );
      await waitForRun(sb, name, (r) => r.status === 'running', 'running again', 120_000);
      const res = await ssh(sb, name, 'hostname; echo "job=$SLURM_JOB_ID"', { timeoutMs: 60_000 });
      expect(res.stdout).toBe(`gpu1\njob=${next.split('|')[0]}\n`);
    } finally {
      await cluster.linkUp(cluster.cpu);
    }
    await mustDstack(sb, ['stop', name, '-y'], { timeoutMs: 120_000 });
  }, 420_000);

  it('a job still pending after pending_timeout is cancelled, and the run fails for want of capacity with Slurm’s reason', async () => {
    // A short pending_timeout, read by the next daemon (the CLI starts it again).
    const config = join(sb.dstackHome, 'config.yml');
    writeFileSync(config, readFileSync(config, 'utf8').replace('    pending_timeout: 10m\n', '    pending_timeout: 15s\n'));
    expect(readFileSync(config, 'utf8')).toContain('    pending_timeout: 15s\n');
    await mustDstack(sb, ['daemon', 'stop'], { timeoutMs: 60_000 });
    const hold = await cluster.sh("cd /root && sbatch --parsable -p gpu --gres=gpu:h100:1 -J someone-else --wrap 'sleep 600'");
    expect(hold.code, hold.stderr).toBe(0);
    const holdId = hold.stdout.trim();
    try {
      await waitFor('the holding job to run', async () => (await squeue()).includes(`${holdId}|someone-else|RUNNING`), {
        timeoutMs: 30_000,
      });
      const name = runName('sltimeout');
      writeFileSync(join(repo, `${name}.dstack.yml`), devEnv(name, ['  gpu: H100:1', 'retry: false']));
      const apply = await dstack(sb, ['apply', '-f', `${name}.dstack.yml`, '-y', '-d'], { cwd: repo, timeoutMs: 180_000 });
      expect(apply.code, apply.stdout + apply.stderr).not.toBe(0);
      const r = await waitForRun(sb, name, (x) => ['failed', 'terminated'].includes(x.status), 'failed', 120_000);
      expect(r.terminationReason).toBe('failed_to_start_due_to_no_capacity');
      expect(r.statusMessage).toMatch(
        /slurm lab: job dstack-[0-9a-f]{8}-\S+ still pending \(Resources\) after 15s \(pending_timeout\): cancelled/,
      );
      // Slurm has it no more; the holding job is untouched.
      const queue = await squeue();
      expect(queue).not.toContain(`-${name}-0|`);
      expect(queue).toContain(`${holdId}|someone-else|RUNNING`);
    } finally {
      await cluster.sh(`scancel ${holdId}`);
    }
  }, 300_000);

  it('a job with this daemon’s prefix that no run owns (a daemon killed after sbatch) is cancelled by the orphan sweep; others are left alone', async () => {
    const id = readFileSync(join(sb.dstackHome, 'daemon-id'), 'utf8').trim();
    // On the GPU node: cpu1, cut off twice above, runs jobs again but in this harness leaves a cancelled
    // one COMPLETING for minutes, which squeue still lists.
    const ghost = (await cluster.sh(`cd /root && sbatch --parsable -p gpu -J dstack-${id}-ghost-0 --wrap 'sleep 600'`)).stdout.trim();
    const other = (await cluster.sh("cd /root && sbatch --parsable -p gpu -J dstack-00000000-other-0 --wrap 'sleep 600'")).stdout.trim();
    try {
      await waitFor('the sweep to cancel the orphan', async () => !(await squeue()).includes(`${ghost}|`), {
        timeoutMs: 120_000,
        intervalMs: 2000,
      });
      expect(await squeue()).toContain(`${other}|dstack-00000000-other-0|`);
      expect(readFileSync(join(sb.dstackHome, 'daemon.log'), 'utf8')).toContain(
        `slurm: terminated instance dstack-${id}-ghost-0 (lab/${ghost}): no run owns it`,
      );
    } finally {
      await cluster.sh(`scancel ${ghost} ${other}`);
    }
  });
});
