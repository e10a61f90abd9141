// Slurm clusters as a backend (`backends: - type: slurm`, dstack's shape): each cluster is reached
// over SSH on its login node, where the standard client tools are. Offers come from sinfo; a run is
// an sbatch job named with this daemon's prefix (found again after a restart, and by the orphan
// sweep), whose batch step runs the agent in host mode on the node Slurm allocated, with the GPUs
// Slurm gave it. The agent is placed on the cluster's shared home through the node (uploaded once,
// checked by sha256, as on a fleet host), and the daemon reaches it, and `ssh NAME` the job, through
// the login node as the jump host. Nothing is scheduled here: Slurm queues, places and limits.
import type { Offer } from '@dstack/core/gen/daemon';
import { posix } from 'node:path';
import { shellWord } from '@dstack/core/quoting';
import {
  NoCapacityError,
  type Backend,
  type CreateInstanceRequest,
  type InstanceEnd,
  type InstanceRecord,
  type OfferList,
  type OfferQuery,
  type SshEndpoint,
} from '../backend';
import type { HostConnection } from '../host-connection';
import { homeDir } from '../host-probe';
import { dataDirIn } from '../ssh-fleet/placement';
import { RecordingHostKeyStore } from '../ssh-fleet/key-recorder';
import { FileHostKeyStore } from '../ssh-client/known-hosts';
import { SshHost } from '../ssh-client/ssh-host';
import {
  batchScript,
  describeNodes,
  jobEnd,
  offersFor,
  parseSinfo,
  parseSqueue,
  SINFO_FORMAT,
  SLURM_BACKEND,
  SQUEUE_FORMAT,
  type SlurmJob,
  type SlurmNode,
} from './cluster';

export interface SlurmClusterConfig {
  /** The region name offers carry. */
  name: string;
  hostname: string;
  port: number;
  user: string;
  identityFile: string;
  /** The login node's host key ("ssh-ed25519 AAAA..."); null: known_hosts decide. */
  hostKey: string | null;
  /** Only these partitions; null: all. */
  partitions: string[] | null;
}

export interface SlurmBackendOptions {
  clusters: SlurmClusterConfig[];
  /** `dstack-<id>-`: the jobs of this daemon are named `<prefix><run>-0`. */
  namePrefix: string;
  /** The daemon's known_hosts, and read-only ones whose keys count as known (~/.ssh/known_hosts). */
  knownHostsFile: string;
  userKnownHostsFiles?: () => string[];
  /** A job still pending after this long is cancelled: no capacity (default 10 min). */
  pendingTimeoutMs?: number;
  /** How often squeue is asked while a job waits (default 3 s). */
  pollMs?: number;
  log?: (message: string) => void;
}

/** What a Slurm instance's record keeps. */
interface SlurmJobData {
  cluster: string;
  jobId: string;
  jobName: string;
  node: string;
  nodeAddr: string;
  nodeHostKey: string;
}

function jobData(r: InstanceRecord): SlurmJobData {
  return r.data as unknown as SlurmJobData;
}

/** The part of the shared home the jobs' agents keep their data in, one folder per job. */
const JOBS_DIR = 'slurm';

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export class SlurmBackend implements Backend {
  readonly type = SLURM_BACKEND;
  /** The job's step runs the agent on the node itself: no container runtime (pyxis/enroot is not used). */
  readonly hostOnly = true;
  private readonly hostKeys: RecordingHostKeyStore;
  private readonly logins = new Map<string, SshHost>();
  private readonly homes = new Map<string, string>();

  constructor(private readonly opts: SlurmBackendOptions) {
    this.hostKeys = new RecordingHostKeyStore(new FileHostKeyStore(opts.knownHostsFile, { readOnly: opts.userKnownHostsFiles }));
  }

  get namePrefix(): string {
    return this.opts.namePrefix;
  }

  private cluster(name: string): SlurmClusterConfig {
    const c = this.opts.clusters.find((x) => x.name === name);
    if (!c) throw new NoCapacityError(`slurm: no cluster named ${name} is configured now`);
    return c;
  }

  private login(c: SlurmClusterConfig): SshHost {
    let conn = this.logins.get(c.name);
    if (!conn) {
      conn = new SshHost({
        hostname: c.hostname,
        port: c.port,
        user: c.user,
        identityFile: c.identityFile,
        hostKey: c.hostKey,
        knownHosts: this.hostKeys,
      });
      this.logins.set(c.name, conn);
    }
    return conn;
  }

  /** Runs a command on the login node; its stdout, or an error naming the cluster and the command's words. */
  private async sh(c: SlurmClusterConfig, command: string, input?: string): Promise<string> {
    const res = await this.login(c).exec(command, { input, timeoutMs: 60_000 });
    if (res.code !== 0) {
      const what = command.split(' ')[0];
      throw new Error(`slurm ${c.name}: ${what} failed (exit ${res.code}): ${(res.stderr || res.stdout).trim().slice(-400)}`);
    }
    return res.stdout;
  }

  private async nodes(c: SlurmClusterConfig): Promise<SlurmNode[]> {
    return parseSinfo(await this.sh(c, `sinfo -h -N -O ${shellWord(SINFO_FORMAT)}`));
  }

  private async home(c: SlurmClusterConfig): Promise<string> {
    let home = this.homes.get(c.name);
    if (!home) {
      home = await homeDir(this.login(c));
      this.homes.set(c.name, home);
    }
    return home;
  }

  async offers(query?: OfferQuery): Promise<OfferList> {
    const offers: Offer[] = [];
    const reasons: string[] = [];
    await Promise.all(
      this.opts.clusters.map(async (c) => {
        try {
          offers.push(...offersFor(c.name, await this.nodes(c), query?.resources, c.partitions));
        } catch (err) {
          reasons.push((err as Error).message);
        }
      }),
    );
    if (!offers.length && reasons.length) return { offers, reasons, error: reasons.join('; ') };
    return { offers, reasons };
  }

  /** Each cluster's nodes now, free of total: `dstack backend list --check`. */
  async describe(): Promise<string> {
    const lines = await Promise.all(this.opts.clusters.map(async (c) => `${c.name}: ${describeNodes(await this.nodes(c), c.partitions)}`));
    return lines.join('; ');
  }

  /** This user's jobs on the cluster named with this daemon's prefix. */
  private async jobs(c: SlurmClusterConfig, extra = ''): Promise<SlurmJob[]> {
    const all = parseSqueue(await this.sh(c, `squeue -h --me ${extra} -o ${shellWord(SQUEUE_FORMAT)}`));
    return all.filter((j) => j.name.startsWith(this.opts.namePrefix));
  }

  /** The job's state and reason; undefined when squeue no longer knows it. */
  private async jobState(c: SlurmClusterConfig, jobId: string): Promise<{ state: string; reason: string; nodes: string } | undefined> {
    // `-t all`: a job that ended (NODE_FAIL, CANCELLED) stays listed until slurmctld purges it (MinJobAge).
    const res = await this.login(c).exec(`squeue -h -t all -j ${shellWord(jobId)} -o ${shellWord(SQUEUE_FORMAT)}`, { timeoutMs: 60_000 });
    // A job purged from slurmctld's memory: "Invalid job id specified".
    if (res.code !== 0 && /invalid job id/i.test(res.stderr)) return undefined;
    if (res.code !== 0) throw new Error(`slurm ${c.name}: squeue failed (exit ${res.code}): ${res.stderr.trim().slice(-400)}`);
    return parseSqueue(res.stdout)[0];
  }

  async createInstance(req: CreateInstanceRequest): Promise<InstanceRecord> {
    const c = this.cluster(req.offer.region);
    const jobName = `${this.opts.namePrefix}${req.name}`;
    const home = await this.home(c);
    const dataDir = posix.join(dataDirIn(home), JOBS_DIR, jobName);
    const binPath = posix.join(dataDirIn(home), 'bin', 'dstack-agent');
    const socketPath = posix.join(dataDir, 'agent.sock');
    const logFile = posix.join(dataDir, 'agent.log');
    // A daemon that died after sbatch finds its job by name.
    let job = (await this.jobs(c, `--name=${shellWord(jobName)}`)).find((j) => !jobEnd(j.state, j.reason));
    if (job) this.opts.log?.(`slurm ${c.name}: adopting job ${jobName} (${job.id}), submitted before a restart`);
    else {
      const r = req.offer.resources;
      const gpu = r?.gpus?.[0];
      const script = batchScript({
        jobName,
        partition: req.offer.instanceType,
        cpus: r?.cpus ?? 1,
        memoryMb: (r?.memoryGb ?? 1) * 1024,
        gpus: r?.gpus?.reduce((n, g) => n + g.count, 0) ?? 0,
        gpuType: gpu && gpu.name !== 'GPU' ? gpu.name.toLowerCase() : '',
        timeMinutes: req.maxDurationS ? Math.ceil(req.maxDurationS / 60) : 0,
        dataDir,
        binPath,
        socketPath,
        logFile,
        startWaitS: 600,
      });
      const scriptPath = posix.join(dataDir, 'job.sh');
      const out = await this.sh(
        c,
        `mkdir -p ${shellWord(dataDir)} && chmod 700 ${shellWord(dataDir)} && rm -f ${shellWord(`${dataDir}/start`)} && cat > ${shellWord(scriptPath)} && cd ${shellWord(dataDir)} && sbatch --parsable ${shellWord(scriptPath)}`,
        script,
      );
      const id = out.trim().split(';')[0];
      if (!/^\d+$/.test(id)) throw new Error(`slurm ${c.name}: sbatch answered ${JSON.stringify(out.trim().slice(0, 200))}`);
      job = { id, name: jobName, state: 'PENDING', reason: '', nodes: '' };
      this.opts.log?.(`slurm ${c.name}: submitted job ${jobName} (${id}) to partition ${req.offer.instanceType}`);
    }
    const running = await this.waitRunning(c, job, req);
    return this.record(c, running, req, { dataDir, binPath, socketPath, logFile });
  }

  /** Polls squeue until the job runs, posting its pending reason; cancels it past pending_timeout. */
  private async waitRunning(c: SlurmClusterConfig, job: SlurmJob, req: CreateInstanceRequest): Promise<SlurmJob> {
    const timeout = this.opts.pendingTimeoutMs ?? 10 * 60_000;
    const until = Date.now() + timeout;
    let said = '';
    for (;;) {
      const st = await this.jobState(c, job.id);
      if (!st) throw new Error(`slurm ${c.name}: job ${job.name} (${job.id}) is gone before it started (cancelled?)`);
      if (st.state === 'RUNNING' && st.nodes) return { ...job, ...st };
      const end = jobEnd(st.state, st.reason);
      if (end) throw new Error(`slurm ${c.name}: job ${job.name} (${job.id}) ended before it started: ${end.what}`);
      // Right after sbatch the reason is None until the scheduler has looked at the job.
      const why = st.reason && st.reason !== 'None' ? st.reason : '';
      const message = st.state === 'PENDING' ? `pending${why ? ` (${why})` : ''}` : st.state.toLowerCase();
      if (message !== said) {
        req.report?.(message);
        said = message;
      }
      // Not cancelled here: a daemon shutting down aborts too, and the next one resumes the job by
      // name; a stopped run's job is owned by no run, and the orphan sweep cancels it.
      if (req.signal?.aborted) throw new Error(`slurm ${c.name}: stopped waiting for job ${job.name} (${job.id})`);
      if (Date.now() > until) {
        await this.sh(c, `scancel ${shellWord(job.id)}`).catch(() => undefined);
        throw new NoCapacityError(
          `slurm ${c.name}: job ${job.name} still ${message} after ${Math.round(timeout / 1000)}s (pending_timeout): cancelled`,
        );
      }
      await sleep(this.opts.pollMs ?? 3000);
    }
  }

  private async record(
    c: SlurmClusterConfig,
    job: SlurmJob,
    req: CreateInstanceRequest,
    agent: { dataDir: string; binPath: string; socketPath: string; logFile: string },
  ): Promise<InstanceRecord> {
    const node = job.nodes.split(',')[0];
    const info = await this.sh(c, `scontrol show node -o ${shellWord(node)}`);
    const addr = /\bNodeAddr=(\S+)/.exec(info)?.[1] ?? node;
    // The node's host key as the login node sees it: trusted as far as the login node is (its own key is checked).
    const scan = await this.sh(c, `ssh-keyscan -T 10 -p 22 ${shellWord(addr)} 2>/dev/null || true`);
    const keys = scan
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f.length >= 3 && !f[0].startsWith('#'))
      .map((f) => `${f[1]} ${f[2]}`);
    const nodeHostKey = keys.find((k) => k.startsWith('ssh-ed25519')) ?? keys[0];
    if (!nodeHostKey)
      throw new Error(
        `slurm ${c.name}: node ${node} (${addr}) does not answer SSH from the login node: dstack needs sshd on compute nodes`,
      );
    const data: SlurmJobData = { cluster: c.name, jobId: job.id, jobName: job.name, node, nodeAddr: addr, nodeHostKey };
    return {
      instanceId: `${c.name}/${job.id}`,
      name: job.name,
      backend: SLURM_BACKEND,
      region: c.name,
      price: 0,
      offer: req.offer,
      agent,
      sshProxy: this.nodeEndpoint(c, data),
      reusable: false,
      data: data as unknown as Record<string, unknown>,
    };
  }

  /** The job's node for OpenSSH, through the login node. */
  private nodeEndpoint(c: SlurmClusterConfig, d: SlurmJobData): SshEndpoint {
    const loginKey = c.hostKey ?? this.hostKeys.keyOf(c.hostname, c.port);
    return {
      hostname: d.nodeAddr,
      port: 22,
      user: c.user,
      identityFile: c.identityFile,
      hostKeys: [d.nodeHostKey],
      proxyJump: {
        hostname: c.hostname,
        port: c.port,
        user: c.user,
        identityFile: c.identityFile,
        ...(loginKey ? { hostKeys: [loginKey] } : {}),
      },
    };
  }

  async connect(instance: InstanceRecord): Promise<HostConnection> {
    const d = jobData(instance);
    const c = this.cluster(d.cluster);
    // The login node's key is needed for the run's SSH block: checked (and so recorded) first.
    if (!c.hostKey && !this.hostKeys.keyOf(c.hostname, c.port)) await this.sh(c, 'true');
    return new SshHost({
      hostname: d.nodeAddr,
      port: 22,
      user: c.user,
      identityFile: c.identityFile,
      hostKey: d.nodeHostKey,
      proxyJump: { hostname: c.hostname, port: c.port, user: c.user, identityFile: c.identityFile, hostKey: c.hostKey },
      knownHosts: this.hostKeys,
    });
  }

  /** The job's step waits for `start`: the agent runs as the job's process, never detached. */
  async startAgent(conn: HostConnection, instance: InstanceRecord): Promise<number | null> {
    const p = instance.agent;
    const pidFile = shellWord(`${p.dataDir}/agent.pid`);
    const res = await conn.exec(
      `rm -f ${pidFile} ${shellWord(p.socketPath)} && touch ${shellWord(`${p.dataDir}/start`)} && ` +
        `for i in $(seq 1 150); do pid=$(cat ${pidFile} 2>/dev/null) && kill -0 "$pid" 2>/dev/null && echo "$pid" && exit 0; sleep 0.2; done; exit 1`,
      { timeoutMs: 60_000 },
    );
    const pid = Number(res.stdout.trim());
    if (res.code !== 0 || !pid) {
      const tail = await conn.exec(`tail -n 20 ${shellWord(`${p.dataDir}/agent.stdout`)} ${shellWord(p.logFile)} 2>/dev/null`);
      throw new Error(
        `slurm: the agent did not start in job ${instance.name} on ${conn.description} (is the job's step running?): ${tail.stdout.trim().slice(-500)}`,
      );
    }
    return pid;
  }

  /** One run per job: the run's end is the job's. */
  async release(instance: InstanceRecord): Promise<void> {
    await this.terminate(instance);
  }

  async terminate(instance: InstanceRecord): Promise<void> {
    const d = jobData(instance);
    const c = this.cluster(d.cluster);
    await this.cancel(c, d.jobId);
    this.opts.log?.(`slurm ${c.name}: cancelled job ${d.jobName} (${d.jobId})`);
    // The job's folder on the shared home goes once the job has left the node (its agent may still
    // write there until Slurm has killed it): a short-lived shell on the login node waits for that.
    const dir = instance.agent.dataDir;
    if (posix.basename(dir) === d.jobName && posix.basename(posix.dirname(dir)) === JOBS_DIR) {
      const wait = `for i in $(seq 1 60); do squeue -h -j ${shellWord(d.jobId)} 2>/dev/null | grep -q . || break; sleep 2; done; rm -rf ${shellWord(dir)}`;
      await this.login(c)
        .exec(`nohup sh -c ${shellWord(wait)} >/dev/null 2>&1 &`, { timeoutMs: 30_000 })
        .catch(() => undefined);
    }
  }

  private async cancel(c: SlurmClusterConfig, jobId: string): Promise<void> {
    await this.sh(c, `scancel ${shellWord(jobId)}`);
  }

  /** Jobs with this daemon's prefix, for the orphan sweep: id `<cluster>/<job id>`. */
  async ownedInstances(): Promise<{ id: string; name: string }[]> {
    const lists = await Promise.all(
      this.opts.clusters.map(async (c) =>
        (await this.jobs(c)).filter((j) => !jobEnd(j.state, j.reason)).map((j) => ({ id: `${c.name}/${j.id}`, name: j.name })),
      ),
    );
    return lists.flat();
  }

  async terminateById(id: string): Promise<void> {
    const [cluster, jobId] = id.split('/');
    await this.cancel(this.cluster(cluster), jobId);
  }

  async check(): Promise<void> {
    await Promise.all(this.opts.clusters.map((c) => this.sh(c, 'sinfo -h -o %P')));
  }

  async instanceEnded(instance: InstanceRecord): Promise<InstanceEnd | undefined> {
    const d = jobData(instance);
    const c = this.cluster(d.cluster);
    const what = `slurm job ${d.jobName} (${d.jobId}) on ${d.node}`;
    const st = await this.jobState(c, d.jobId);
    if (!st) {
      // Purged already (slurmctld keeps an ended job a short while): its node says whether it failed.
      const node = await this.login(c).exec(`scontrol show node -o ${shellWord(d.node)}`, { timeoutMs: 60_000 });
      const state = /\bState=(\S+)/.exec(node.stdout)?.[1] ?? '';
      if (/DOWN|FAIL|NOT_RESPONDING/.test(state)) return { interrupted: true, message: `${what} is gone and ${d.node} is ${state}` };
      return { interrupted: false, message: `${what} is no longer in squeue` };
    }
    const end = jobEnd(st.state, st.reason);
    if (end) return { interrupted: end.interrupted, message: `${what} is ${end.what}` };
    return undefined;
  }
}
