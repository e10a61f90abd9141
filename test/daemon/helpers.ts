// The daemon's end-to-end suites drive the built daemon (dist/daemon.cjs, a child process) through
// the generated DaemonClient on its socket, as the CLI does, with the built agent
// (dist/agent/dstack-agent-linux-x64) deployed by it on this machine. Each sandbox has its own
// DSTACK_HOME and HOME, the test Docker engine (or none, for host mode), and config.yml pointing the
// base image at the harness's Debian image. OpenSSH is the client; `docker()` checks containers.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import {
  DaemonClient,
  type ApplyRunRequest,
  type ConfigurationSource,
  type AttachEvent,
  type AttachRequest,
  type GetPlanRequest,
  type LogEntry,
  type Plan,
  type Run,
  type StatusResponse,
} from '@dstack/core/gen/daemon';
import { docker } from '../harness/docker';
import {
  ROOT,
  hasHostBlockIn,
  makeGitRepo,
  requireBuilt as requireBuiltParts,
  sshAs,
  sshConfigOf,
  userHome,
  type UserHome,
} from '../harness/sandbox';
import { waitFor, type RunResult } from '../harness/util';

export { runName } from '../harness/sandbox';
/** DSTACK_TEST_DAEMON runs the suites against another build of the daemon (an older one, to see a test fail). */
export const DAEMON = process.env.DSTACK_TEST_DAEMON ?? join(ROOT, 'dist/daemon.cjs');

export function requireBuilt(): void {
  requireBuiltParts(['dist/daemon.cjs', 'dist/agent/dstack-agent-linux-x64'], 'daemon');
}

type Cb<T> = (err: ServiceError | null, res: T) => void;

export interface SandboxOptions {
  /** DOCKER_HOST of the daemon (and so of its agent): default the test engine; unix:///nonexistent for host mode. */
  dockerHost?: string;
  /** Extra lines for config.yml. */
  config?: string;
}

export class Sandbox {
  readonly dir: string;
  readonly home: string;
  readonly dstackHome: string;
  readonly env: NodeJS.ProcessEnv;
  private grpcClient: DaemonClient | undefined;
  proc?: ChildProcess;
  private readonly user: UserHome;

  constructor(prefix: string, opts: SandboxOptions = {}) {
    requireBuilt();
    this.user = userHome(`daemon-${prefix}`, opts);
    this.dir = this.user.dir;
    this.home = this.user.home;
    this.dstackHome = this.user.dstackHome;
    this.env = this.user.env;
  }

  /** The daemon's client (made on first use when start() did not make it). */
  get client(): DaemonClient {
    this.grpcClient ??= new DaemonClient(`unix://${this.socket}`, credentials.createInsecure(), {
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
      'grpc.use_local_subchannel_pool': 1,
    });
    return this.grpcClient;
  }

  get socket(): string {
    return join(this.dstackHome, 'daemon.sock');
  }

  /**
   * Starts dist/daemon.cjs and waits until Status answers. `cgroupProcs`: the daemon runs in that
   * cgroup (its cgroup.procs file) from its first instruction.
   */
  async start({ cgroupProcs }: { cgroupProcs?: string } = {}): Promise<StatusResponse> {
    const argv = cgroupProcs
      ? ['sh', '-c', 'echo $$ > "$0" && exec "$@"', cgroupProcs, process.execPath, DAEMON]
      : [process.execPath, DAEMON];
    const proc = spawn(argv[0]!, argv.slice(1), { env: this.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.proc = proc;
    let stderr = '';
    proc.stderr!.on('data', (d) => (stderr += d));
    const exited = new Promise<never>((_, reject) =>
      proc.once('exit', (code, sig) => reject(new Error(`the daemon exited (${code ?? sig}): ${stderr}`))),
    );
    exited.catch(() => {});
    this.grpcClient?.close();
    this.grpcClient = undefined;
    return Promise.race([exited, waitFor('the daemon to answer', () => this.answers(), { timeoutMs: 30_000, intervalMs: 200 })]);
  }

  /**
   * One look: does the socket take a connection (a plain connect, as the CLI looks), and then does
   * Status answer? The gRPC client is made only once the socket takes connections, with a
   * subchannel of its own: a client that tried while nothing listened waits 1 s, then ×1.6 each
   * time, before it tries again (grpc-js reconnect backoff), and clients of one target share that
   * wait. It hid a daemon that had been listening for seconds.
   */
  private async answers(): Promise<StatusResponse | undefined> {
    if (!this.grpcClient && !(await socketAccepts(this.socket))) return undefined;
    return this.status(2000).catch(() => undefined);
  }

  /** The daemon dies without any cleanup. */
  async kill9(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    process.kill(p.pid!, 'SIGKILL');
    await gone;
  }

  private unary<Req, Res>(
    method: (req: Req, md: Metadata, opts: object, cb: Cb<Res>) => unknown,
    req: Req,
    timeoutMs = 120_000,
  ): Promise<Res> {
    return new Promise((resolve, reject) =>
      method.call(this.client, req, new Metadata(), { deadline: Date.now() + timeoutMs }, (err: ServiceError | null, res: Res) =>
        err ? reject(err) : resolve(res),
      ),
    );
  }

  status(timeoutMs = 10_000): Promise<StatusResponse> {
    return this.unary(this.client.status, {}, timeoutMs);
  }
  plan(req: Partial<GetPlanRequest> & { configuration: ConfigurationSource }): Promise<Plan> {
    return this.unary(this.client.getPlan, { repoDir: '', noRepo: false, maxOffers: 0, ...req });
  }
  apply(req: Partial<ApplyRunRequest> & { configuration: ConfigurationSource }): Promise<Run> {
    return this.unary(this.client.applyRun, {
      repoDir: '',
      noRepo: false,
      runName: '',
      override: false,
      updateInPlace: false,
      ideVersion: '',
      sync: false,
      ...req,
    });
  }
  getRun(name: string): Promise<Run> {
    return this.unary(this.client.getRun, { name });
  }
  async listRuns(all = true): Promise<Run[]> {
    return (await this.unary(this.client.listRuns, { all })).runs;
  }
  stop(name: string, abort = false): Promise<Run> {
    return this.unary(this.client.stopRun, { name, abort }, 180_000);
  }
  deleteRun(name: string): Promise<object> {
    return this.unary(this.client.deleteRun, { name });
  }
  shutdown(): Promise<object> {
    return this.unary(this.client.shutdown, {}, 10_000);
  }

  /** Collects GetLogs until it ends (follow=false). */
  logs(name: string, sinceMs = 0): Promise<LogEntry[]> {
    return new Promise((resolve, reject) => {
      const out: LogEntry[] = [];
      const s = this.client.getLogs({ name, sinceMs, follow: false });
      s.on('data', (e: LogEntry) => out.push(e));
      s.on('error', reject);
      s.on('end', () => resolve(out));
    });
  }

  async logText(name: string): Promise<string> {
    return (await this.logs(name)).map((e) => Buffer.from(e.data).toString()).join('');
  }

  /** An Attach stream whose events pile up in `events`; close() cancels it. */
  attach(req: Partial<AttachRequest> & { name: string }): { events: AttachEvent[]; close(): void; ended: Promise<void> } {
    const events: AttachEvent[] = [];
    const s = this.client.attach({ countAsActivity: false, logsFrom: 0, noLogs: false, ...req });
    s.on('data', (e: AttachEvent) => events.push(e));
    const ended = new Promise<void>((r) => {
      s.on('end', () => r());
      s.on('error', () => r());
    });
    return { events, close: () => s.cancel(), ended };
  }

  waitForRun(name: string, ok: (r: Run) => boolean, what: string, timeoutMs = 180_000): Promise<Run> {
    return waitFor(
      `run ${name} to be ${what}`,
      async () => {
        const r = await this.getRun(name);
        if (['failed', 'terminated', 'done'].includes(r.status) && !ok(r)) {
          throw new Error(`run ${name} ended ${r.status} (${r.terminationReason}: ${r.statusMessage})`);
        }
        return ok(r) ? r : undefined;
      },
      { timeoutMs, intervalMs: 500 },
    );
  }

  /** OpenSSH through ~/.ssh/config of the temp HOME, which the daemon gave its Include line. */
  ssh(host: string, command: string, timeoutMs = 60_000): Promise<RunResult> {
    return sshAs(this, host, command, timeoutMs);
  }

  sshConfig(): string {
    return sshConfigOf(this.dstackHome);
  }

  hasHostBlock(name: string): boolean {
    return hasHostBlockIn(this.dstackHome, name);
  }

  daemonLog(): string {
    const f = join(this.dstackHome, 'daemon.log');
    return existsSync(f) ? readFileSync(f, 'utf8') : '';
  }

  /** Stops what is still active and the daemon; then the local agent and anything else of this user, and the files. */
  async cleanup(): Promise<void> {
    try {
      if (!this.proc || this.proc.exitCode !== null) await this.start().catch(() => undefined);
      for (const r of await this.listRuns(true).catch(() => [] as Run[])) {
        if (!['terminated', 'failed', 'done'].includes(r.status)) await this.stop(r.name, true).catch(() => undefined);
      }
      const p = this.proc;
      if (p && p.exitCode === null) {
        const gone = new Promise((r) => p.once('exit', r));
        await this.shutdown().catch(() => undefined);
        await Promise.race([gone, new Promise((r) => setTimeout(r, 10_000))]);
      }
    } finally {
      this.grpcClient?.close();
      await this.user.end();
    }
  }
}

/** Does a unix socket take a connection now? */
export function socketAccepts(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(path);
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

/** A configuration file as the CLI sends it: the text, its path, the caller's environment. */
export function configSource(yaml: string, opts: { callerEnv?: Record<string, string>; path?: string } = {}): ConfigurationSource {
  return { path: opts.path ?? '.dstack.yml', text: yaml, cwd: '/', env: [], callerEnv: opts.callerEnv ?? {} };
}

/** Containers of a run on the test engine (any state). */
export async function containersOf(runName: string): Promise<string[]> {
  const res = await docker(['ps', '-aq', '--no-trunc', '--filter', `label=ai.dstack.run-name=${runName}`]);
  return res.stdout.split('\n').filter(Boolean);
}

/** A git repo: one committed file, one committed then modified, one untracked (not ignored), one ignored. */
export function gitRepo(dir: string): Promise<string> {
  return makeGitRepo(dir);
}

/** The resources every test host has (the default spec asks for 100GB of disk and 8GB of memory). */
export const SMALL = 'resources:\n  cpu: 1..\n  memory: 1GB..\n  disk: 1GB..\n';
