// The docker runtime: the job is a container (host network, /workflow bind-mounted from the job's code
// dir, GPUs as device requests) whose main process only keeps it alive; init commands, the profile,
// the IDE server install and SSH sessions all enter it through Docker exec.
//
// Containers carry labels naming this agent's instance id and the job: agents of parallel test runs
// sharing one engine never touch each other's containers, and a restarted agent finds its own.
import type { PullProgress, RegistryAuth } from '@dstack/core/gen/agent';
import { shellWord } from '@dstack/core/quoting';
import { DockerError, type DockerEngine } from '../docker/engine';
import { dockerExec } from '../docker/exec';
import { dockerSessionTarget } from '../docker/session-target';
import { imageExists, pullImage } from '../docker/pull';
import type { SessionTarget, TargetUser } from '../ssh-server/target';
import { lookupUser } from '../ssh-server/target-user';
import { PROFILE, PROFILE_LINE, PROFILE_LOOP, writeProfileFiles } from './profile-files';
import { checkMounted, prepareMounts, type PreparedMount } from './instance-mounts';
import { logger } from '../logger';
import {
  JobError,
  KEEPALIVE,
  profileScript,
  publicEnv,
  type ExecOptions,
  type OutputStream,
  type Runtime,
  type RuntimeJob,
} from './runtime';

export const LABEL_INSTANCE = 'ai.dstack.agent.instance-id';
export const LABEL_JOB = 'ai.dstack.job-id';
const LABEL_RUN = 'ai.dstack.run-name';
const LABEL_REPO = 'ai.dstack.repo-id';

// The fallback of writeProfileFiles() (profile-files.ts) when the agent cannot write into the
// container's filesystem itself. As root: the profile (0600 and the session user's: it holds the
// secrets), and an /etc/profile that reads profile.d where the image has none.
const profileWrite = (
  owner: string,
) => `mkdir -p /etc/profile.d && rm -f ${PROFILE} && (umask 077 && cat > ${PROFILE}) && chown ${shellWord(owner)} ${PROFILE}
[ -f /etc/profile ] || printf '%s' ${shellWord(PROFILE_LOOP)} > /etc/profile`;
// As the job's user, so the files in its home stay its own.
const PROFILE_HOOKS = `line=${shellWord(PROFILE_LINE)}
h="\${HOME:-/root}"
mkdir -p "$h" 2>/dev/null
for f in "$h/.profile" "$h/.bashrc"; do grep -qxF "$line" "$f" 2>/dev/null || printf '%s\\n' "$line" >> "$f"; done
exit 0`;

interface ContainerInspect {
  Id: string;
  State: { Running: boolean; Pid: number; ExitCode: number; Status: string };
  Config: { Env: string[] | null; User?: string };
}

function slug(s: string): string {
  return (
    s
      .toLowerCase()
      .replace(/[^a-z0-9_.-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 40) || 'job'
  );
}

/** The Engine API's create body for a job's container. */
export function containerConfig(
  job: Pick<RuntimeJob, 'id' | 'spec' | 'env' | 'codeDir' | 'workingDir'>,
  instanceId: string,
  mounts: readonly PreparedMount[] = [],
) {
  const spec = job.spec;
  const gpus = spec.gpus;
  const wantsGpus = !!gpus && (gpus.all || gpus.count > 0);
  const vendor = gpus?.vendor || 'nvidia';
  return {
    Image: spec.image,
    Entrypoint: ['/bin/sh', '-c', KEEPALIVE],
    Cmd: null,
    // Not the secrets: `docker inspect` shows this to anyone who can reach the engine. Processes
    // get them through their exec's env, shells through the profile (0600, the job user's).
    Env: Object.entries(publicEnv(job)).map(([k, v]) => `${k}=${v}`),
    WorkingDir: job.workingDir,
    User: spec.user || '',
    Labels: {
      ...spec.labels,
      [LABEL_INSTANCE]: instanceId,
      [LABEL_JOB]: job.id,
      [LABEL_RUN]: spec.runName,
      [LABEL_REPO]: spec.repoId,
    },
    HostConfig: {
      NetworkMode: 'host',
      Privileged: spec.privileged,
      ShmSize: spec.shmSizeGb > 0 ? Math.round(spec.shmSizeGb * 1024 ** 3) : undefined,
      Binds: [`${job.codeDir}:/workflow`],
      // Instance volumes, as the agent made them (instance-mounts.ts): the Mounts form takes any path
      // as it is (Binds splits on `:`) and refuses a source that is not there instead of making it.
      Mounts: mounts.map((m) => ({ Type: 'bind', Source: m.source, Target: m.target, ReadOnly: m.readOnly })),
      // NVIDIA through the container toolkit's device request; AMD as the devices ROCm needs.
      DeviceRequests:
        wantsGpus && vendor === 'nvidia'
          ? [
              gpus!.indices?.length
                ? { Driver: 'nvidia', DeviceIDs: gpus!.indices.map(String), Capabilities: [['gpu']] }
                : { Driver: 'nvidia', Count: gpus!.all ? -1 : gpus!.count, Capabilities: [['gpu']] },
            ]
          : [],
      Devices:
        wantsGpus && vendor === 'amd'
          ? ['/dev/kfd', '/dev/dri'].map((d) => ({ PathOnHost: d, PathInContainer: d, CgroupPermissions: 'rwm' }))
          : [],
    },
  };
}

export class DockerRuntime implements Runtime {
  readonly kind = 'docker' as const;

  constructor(
    private readonly engine: DockerEngine,
    private readonly instanceId: string,
    /** The agent's data dir: no instance volume may reach it. */
    private readonly dataDir: string,
  ) {}

  async prepare(
    job: RuntimeJob,
    auth: RegistryAuth | undefined,
    onProgress: (p: PullProgress) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const image = job.spec.image;
    if (!image) throw new JobError('image_pull_error', 'the job names no image (a docker job needs one)');
    // With credentials the pull always goes to the registry, so they are checked every time and a
    // cached private image is never handed to a job that could not pull it.
    if (!auth?.username && (await imageExists(this.engine, image))) {
      job.note(`image ${image} is present`);
      onProgress({ current: 0, total: 0, status: 'present' });
      return;
    }
    job.note(`pulling image ${image}`);
    let lastNote = 0;
    await pullImage(
      this.engine,
      image,
      auth,
      (p) => {
        onProgress(p);
        if (p.total && Date.now() - lastNote > 5000) {
          lastNote = Date.now();
          job.note(`pulling ${image}: ${(p.current / 1048576).toFixed(1)} of ${(p.total / 1048576).toFixed(1)} MiB`);
        }
      },
      signal,
    );
    job.note(`pulled image ${image}`);
  }

  private async inspect(id: string): Promise<ContainerInspect | undefined> {
    try {
      return await this.engine.json<ContainerInspect>('GET', `/containers/${encodeURIComponent(id)}/json`);
    } catch (err) {
      if (err instanceof DockerError && err.statusCode === 404) return undefined;
      throw err;
    }
  }

  /** This agent's container for the job: by its saved id, else by labels (a crash right after create). */
  private async find(job: RuntimeJob): Promise<ContainerInspect | undefined> {
    if (job.state.containerId) {
      const c = await this.inspect(job.state.containerId);
      if (c) return c;
    }
    const filters = JSON.stringify({ label: [`${LABEL_INSTANCE}=${this.instanceId}`, `${LABEL_JOB}=${job.id}`] });
    const list = await this.engine.json<{ Id: string }[]>('GET', `/containers/json?all=1&filters=${encodeURIComponent(filters)}`);
    if (!list.length) return undefined;
    job.state.containerId = list[0].Id;
    job.persist();
    return this.inspect(list[0].Id);
  }

  async start(job: RuntimeJob, signal?: AbortSignal): Promise<void> {
    let c = await this.find(job);
    if (!c) {
      const spec = job.spec;
      // The instance volumes' folders, made and held before the container (kept for the check below).
      job.state.mounts = prepareMounts(job, this.dataDir);
      job.persist();
      const body = containerConfig(job, this.instanceId, job.state.mounts);
      const name = `dstack-${slug(spec.runName)}-${job.id}-${this.instanceId.slice(0, 8)}`;
      let created: { Id: string };
      try {
        created = await this.engine.json<{ Id: string }>('POST', `/containers/create?name=${encodeURIComponent(name)}`, body);
      } catch (err) {
        throw new JobError('container_error', `cannot create the container: ${(err as Error).message}`);
      }
      job.state.containerId = created.Id;
      job.persist();
      c = await this.inspect(created.Id);
    }
    if (!c) throw new JobError('container_error', 'the container vanished right after it was created');
    // Stopped while it was being created: its id is saved, so the stop's teardown removes it.
    if (signal?.aborted) return;
    if (!c.State.Running) {
      try {
        await this.engine.json('POST', `/containers/${c.Id}/start`);
      } catch (err) {
        throw new JobError('container_error', `cannot start the container: ${(err as Error).message}`);
      }
    }
    await this.checkMounts(job, c.Id);
    job.note(`container ${c.Id.slice(0, 12)} started`);
  }

  /** Fails the job when a mounted volume is not the folder the agent made (see instance-mounts.ts). */
  private async checkMounts(job: RuntimeJob, id: string): Promise<void> {
    const mounts = job.state.mounts ?? [];
    if (!mounts.length) return;
    // A container that exited at once runs nothing with its mounts (its exit fails the job).
    const pid = (await this.inspect(id))?.State.Pid ?? 0;
    if (!pid) return;
    const problem = checkMounted(pid, mounts);
    if (problem === 'unverifiable')
      logger.warn(`job ${job.id}: cannot look into the container to check its volumes (the agent is not root)`);
    else if (problem) throw new JobError('volume_error', problem);
  }

  async exists(job: RuntimeJob): Promise<boolean> {
    return !!(await this.find(job));
  }

  async alive(job: RuntimeJob): Promise<boolean> {
    const c = await this.find(job);
    return !!c?.State.Running;
  }

  async waitExit(job: RuntimeJob): Promise<number> {
    const id = job.state.containerId;
    if (!id) throw new JobError('container_error', 'the job has no container');
    for (;;) {
      try {
        const res = await this.engine.json<{ StatusCode: number }>('POST', `/containers/${id}/wait?condition=not-running`);
        return res.StatusCode;
      } catch (err) {
        if (err instanceof DockerError && err.statusCode === 404) return 137;
        // The engine went away for a moment (restart): look again shortly.
        await new Promise((r) => setTimeout(r, 2000));
        const c = await this.inspect(id).catch(() => undefined);
        if (c && !c.State.Running) return c.State.ExitCode;
      }
    }
  }

  async exec(job: RuntimeJob, command: string, onOutput: (s: OutputStream, d: Buffer) => void, opts: ExecOptions = {}): Promise<number> {
    const id = job.state.containerId;
    if (!id) throw new JobError('container_error', 'the job has no container');
    const user = opts.user ?? (job.spec.user || undefined);
    const p = await dockerExec(this.engine, id, {
      cmd: [opts.shell ?? '/bin/sh', '-c', command],
      env: job.env,
      workingDir: job.workingDir,
      user,
    });
    p.stdout.on('data', (d: Buffer) => onOutput('stdout', d));
    p.stderr?.on('data', (d: Buffer) => onOutput('stderr', d));
    if (opts.stdin) opts.stdin.pipe(p.stdin);
    else p.stdin.end(opts.input ?? '');
    const kill = () => p.signal('SIGKILL');
    opts.signal?.addEventListener('abort', kill, { once: true });
    try {
      return (await p.exit).code ?? 255;
    } finally {
      opts.signal?.removeEventListener('abort', kill);
    }
  }

  async installProfile(job: RuntimeJob): Promise<void> {
    const c = await this.find(job);
    // The image's own env (PATH of a conda image) first: a login shell's /etc/profile resets PATH.
    const imageEnv: Record<string, string> = {};
    for (const e of c?.Config.Env ?? []) {
      const i = e.indexOf('=');
      if (i > 0) imageEnv[e.slice(0, i)] = e.slice(i + 1);
    }
    const quiet = () => {};
    const script = profileScript({ ...imageEnv, ...job.env });
    // Who Docker runs the job's execs as: the job's user, else the image's.
    const sessionUser = job.spec.user || c?.Config.User || undefined;
    if (c?.State.Pid) {
      try {
        const root = `/proc/${c.State.Pid}/root`;
        await writeProfileFiles(root, await lookupUser(root, sessionUser), script);
        return;
      } catch (err) {
        job.note(`writing the profile into the container directly failed (${(err as Error).message}); using docker exec`);
      }
    }
    const code = await this.exec(job, profileWrite(sessionUser ?? '0'), quiet, { input: script, user: '0' });
    if (code !== 0) job.note(`warning: could not write ${PROFILE} (exit code ${code}); SSH sessions still get the env`);
    await this.exec(job, PROFILE_HOOKS, quiet);
  }

  /** Processes in the container other than the keep-alive and its sleep. */
  private async userProcesses(c: ContainerInspect): Promise<number> {
    try {
      const top = await this.engine.json<{ Titles: string[]; Processes: string[][] }>(
        'GET',
        `/containers/${c.Id}/top?ps_args=-o%20pid,ppid,args`,
      );
      const [pid, ppid, args] = ['PID', 'PPID', 'COMMAND'].map((t) => top.Titles.indexOf(t));
      const keepalive = String(c.State.Pid);
      return top.Processes.filter((p) => p[pid] !== keepalive && !(p[ppid] === keepalive && /^sleep 3600$/.test(p[args] ?? ''))).length;
    } catch {
      return 0;
    }
  }

  async stop(job: RuntimeJob, graceSeconds: number, opts: { keep?: boolean } = {}): Promise<void> {
    const c = await this.find(job);
    if (!c) return;
    try {
      if (graceSeconds > 0 && c.State.Running) {
        // SIGTERM to every process of the container but PID 1, and time to exit, up to the grace
        // period; then PID 1 (which exits at once on SIGTERM) and SIGKILL for what is left.
        const deadline = Date.now() + graceSeconds * 1000;
        await this.exec(job, 'kill -TERM -1 2>/dev/null; exit 0', () => {}, { user: '0' }).catch(() => {});
        while (Date.now() < deadline && (await this.userProcesses(c)) > 0) await new Promise((r) => setTimeout(r, 250));
        const left = Math.max(1, Math.ceil((deadline - Date.now()) / 1000));
        await this.engine.json('POST', `/containers/${c.Id}/stop?t=${left}`);
      } else await this.engine.json('POST', `/containers/${c.Id}/kill`);
    } catch (err) {
      // 304: already stopped; 404: gone; 409: not running.
      if (!(err instanceof DockerError) || ![304, 404, 409].includes(err.statusCode)) throw err;
    }
    if (opts.keep) {
      // Stop and resume with state: its filesystem (what the job installed) waits for a resume.
      job.note(`container ${c.Id.slice(0, 12)} stopped and kept`);
      return;
    }
    try {
      await this.engine.json('DELETE', `/containers/${c.Id}?force=1&v=1`);
    } catch (err) {
      if (!(err instanceof DockerError) || err.statusCode !== 404) throw err;
    }
    job.note(`container ${c.Id.slice(0, 12)} removed`);
  }

  async keptSize(job: RuntimeJob): Promise<number | undefined> {
    const id = job.state.containerId;
    if (!id) return undefined;
    try {
      // size=1 makes the engine sum the container's own layer: asked once, when the job is kept.
      const c = await this.engine.json<{ SizeRw?: number }>('GET', `/containers/${encodeURIComponent(id)}/json?size=1`);
      return c.SizeRw;
    } catch {
      return undefined;
    }
  }

  async codeOwner(job: RuntimeJob): Promise<{ uid: number; gid: number } | undefined> {
    if (!job.spec.user) return undefined;
    const u = await this.target(job).user!();
    return u.uid === 0 ? undefined : { uid: u.uid, gid: u.gid };
  }

  async fsRoot(job: RuntimeJob): Promise<{ root: string; user: TargetUser; workflow: string }> {
    const c = await this.find(job);
    if (!c?.State.Pid) throw new JobError('container_error', 'the job has no running container');
    const root = `/proc/${c.State.Pid}/root`;
    return { root, user: await lookupUser(root, job.spec.user || c.Config.User || undefined), workflow: '/workflow' };
  }

  target(job: RuntimeJob): SessionTarget {
    // Sessions are Docker execs (docker/session-target.ts).
    return dockerSessionTarget({
      engine: this.engine,
      containerId: job.state.containerId ?? '',
      workingDir: job.workingDir,
      user: job.spec.user || undefined,
      env: job.env,
      shell: job.spec.shell || undefined,
      log: (line) => job.note(line),
    });
  }
}
