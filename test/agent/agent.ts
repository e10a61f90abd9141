// The built agent executable as a child process, and a promise-returning client for its socket.
// Suites run dist/agent/dstack-agent-linux-x64 (npm run build:agent makes it) exactly as the daemon
// does: `serve --data-dir DIR`, detached, then gRPC over DIR/agent.sock.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { credentials, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import {
  AgentClient,
  JobState,
  type BlobChunk,
  type CommitCodeResponse,
  type Event,
  type GetLogsResponse,
  type HandshakeResponse,
  type HostInfo,
  type Job,
  type JobSpec,
  type ListJobsResponse,
  type LogLine,
  type PutManifestResponse,
  type RemoveJobResponse,
  type SetJobSecretsRequest,
  type ShutdownResponse,
} from '@dstack/core/gen/agent';
import { afterAll, beforeAll } from 'vitest';
import { mustRun, run, tempDir, waitFor, type RunResult } from '../harness/util';

export const ROOT = join(__dirname, '../..');
/** DSTACK_TEST_AGENT_BIN runs the suites against another build (an older one, to see a fix matter). */
export const AGENT_BIN = process.env.DSTACK_TEST_AGENT_BIN ?? join(ROOT, 'dist/agent/dstack-agent-linux-x64');

export function requireAgentBinary(): string {
  if (!existsSync(AGENT_BIN)) throw new Error(`${AGENT_BIN} is missing: run npm run build:agent first`);
  return AGENT_BIN;
}

type Callback<T> = (err: ServiceError | null, res: T) => void;

/** Calls a callback-style unary method as a promise. */
function call<Res>(fn: (cb: Callback<Res>) => unknown): Promise<Res> {
  return new Promise((resolve, reject) => fn((err, res) => (err ? reject(err) : resolve(res))));
}

export class AgentProcess {
  client!: AgentClient;
  proc: ChildProcess | undefined;
  readonly events: Event[] = [];
  private streams: ClientReadableStream<Event>[] = [];

  constructor(
    readonly dataDir: string,
    readonly env: Record<string, string>,
    readonly args: string[] = [],
  ) {}

  get socket(): string {
    return join(this.dataDir, 'agent.sock');
  }
  get logFile(): string {
    return join(this.dataDir, 'agent.log');
  }

  async start(): Promise<void> {
    const bin = requireAgentBinary();
    this.proc = spawn(bin, ['serve', '--data-dir', this.dataDir, '--log-file', this.logFile, ...this.args], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...this.env },
      detached: true,
      stdio: 'ignore',
    });
    this.proc.unref();
    let exited: string | undefined;
    this.proc.once('exit', (code, sig) => (exited = `the agent exited (${code ?? sig}); its log:\n${this.log()}`));
    this.client?.close();
    this.client = new AgentClient(`unix://${this.socket}`, credentials.createInsecure(), {
      'grpc.max_receive_message_length': 256 << 20,
      'grpc.max_send_message_length': 256 << 20,
    });
    await waitFor(
      'the agent to answer a handshake',
      async () => {
        if (exited) throw new Error(exited);
        if (!existsSync(this.socket)) return false;
        await this.handshake();
        return true;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
  }

  log(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '(no log)';
    }
  }

  /** Collects every event into `events` (a new subscription, e.g. after a restart). */
  subscribe(jobId = ''): void {
    const s = this.client.events({ jobId });
    s.on('data', (e: Event) => this.events.push(e));
    s.on('error', () => {});
    this.streams.push(s);
  }

  async waitEvent(what: string, pred: (e: Event) => boolean, timeoutMs = 120_000): Promise<Event> {
    return waitFor(what, () => this.events.find(pred), { timeoutMs, intervalMs: 100 });
  }

  handshake() {
    return call((cb: Callback<HandshakeResponse>) => this.client.handshake({ daemonVersion: 'test', protocolVersion: 1 }, cb));
  }
  hostInfo() {
    return call((cb: Callback<HostInfo>) => this.client.getHostInfo({}, cb));
  }
  submit(spec: Partial<JobSpec> & { jobId: string }): Promise<Job> {
    return call((cb: Callback<Job>) => this.client.submitJob({ spec: jobSpec(spec) }, cb));
  }
  getJob(jobId: string): Promise<Job> {
    return call((cb: Callback<Job>) => this.client.getJob({ jobId }, cb));
  }
  listJobs() {
    return call((cb: Callback<ListJobsResponse>) => this.client.listJobs({}, cb));
  }
  stopJob(jobId: string, abort = false, graceSeconds = 0): Promise<Job> {
    return call((cb: Callback<Job>) => this.client.stopJob({ jobId, abort, graceSeconds }, cb));
  }
  removeJob(jobId: string) {
    return call((cb: Callback<RemoveJobResponse>) => this.client.removeJob({ jobId }, cb));
  }
  updateJob(jobId: string, authorizedKeys: string[]) {
    return call((cb: Callback<Job>) => this.client.updateJob({ jobId, authorizedKeys }, cb));
  }
  setJobSecrets(req: SetJobSecretsRequest): Promise<Job> {
    return call((cb: Callback<Job>) => this.client.setJobSecrets(req, cb));
  }
  putManifest(req: Parameters<AgentClient['putManifest']>[0]) {
    return call((cb: Callback<PutManifestResponse>) => this.client.putManifest(req, cb));
  }
  commitCode(uploadId: string) {
    return call((cb: Callback<CommitCodeResponse>) => this.client.commitCode({ uploadId }, cb));
  }
  getLogs(jobId: string, fromOffset = 0, sinceMs = 0) {
    return call((cb: Callback<GetLogsResponse>) => this.client.getLogs({ jobId, fromOffset, sinceMs, limitBytes: 0 }, cb));
  }
  shutdown(removeData = false) {
    return call((cb: Callback<ShutdownResponse>) => this.client.shutdown({ removeData }, cb));
  }
  putBlobs(chunks: BlobChunk[]): Promise<{ blobs: number; bytes: number }> {
    return new Promise((resolve, reject) => {
      const stream = this.client.putBlobs((err, res) => (err ? reject(err) : resolve(res)));
      for (const c of chunks) stream.write(c);
      stream.end();
    });
  }

  async waitState(jobId: string, state: JobState, timeoutMs = 180_000): Promise<Job> {
    return waitFor(
      `job ${jobId} to be ${JobState[state]}`,
      async () => {
        const job = await this.getJob(jobId);
        if (job.status!.state === JobState.JOB_STATE_FAILED && state !== JobState.JOB_STATE_FAILED) {
          throw new Error(`job failed: ${job.status!.reason}: ${job.status!.message}`);
        }
        return job.status!.state === state ? job : undefined;
      },
      { timeoutMs, intervalMs: 200 },
    );
  }

  /** All of the job's log text (every stream). */
  async logText(jobId: string): Promise<string> {
    const r = await this.getLogs(jobId);
    return r.lines.map((l: LogLine) => Buffer.from(l.data).toString()).join('');
  }

  kill9(): void {
    if (this.proc?.pid) process.kill(this.proc.pid, 'SIGKILL');
    for (const s of this.streams.splice(0)) s.cancel();
  }

  async stop(): Promise<void> {
    for (const s of this.streams.splice(0)) s.cancel();
    if (this.proc?.pid && this.proc.exitCode === null) {
      const proc = this.proc;
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
    }
    this.client?.close();
  }
}

/** A full JobSpec from the fields a test cares about. */
export function jobSpec(p: Partial<JobSpec> & { jobId: string }): JobSpec {
  return {
    runName: 'test-run',
    repoId: 'test-repo',
    runtime: '',
    image: '',
    registryAuth: undefined,
    privileged: false,
    env: {},
    init: [],
    workingDir: '',
    user: '',
    shell: '',
    gpus: undefined,
    shmSizeGb: 0,
    authorizedKeys: [],
    ide: undefined,
    expectCode: false,
    labels: {},
    sshPort: 0,
    mounts: [],
    secretEnv: {},
    docker: false,
    files: [],
    repos: [],
    ...p,
  };
}

export async function startAgent(
  env: Record<string, string> = {},
  args: string[] = [],
): Promise<{ agent: AgentProcess; cleanup: () => Promise<void> }> {
  const dir = tempDir('agent');
  const agent = new AgentProcess(join(dir.path, 'data'), env, args);
  await agent.start();
  return {
    agent,
    cleanup: async () => {
      // Jobs first (containers), then the agent, then its files.
      try {
        for (const j of (await agent.listJobs()).jobs) await agent.removeJob(j.spec!.jobId).catch(() => {});
      } catch {
        /* the agent is gone */
      }
      await agent.stop();
      dir.cleanup();
    },
  };
}

export function uniqueId(prefix: string): string {
  return `${prefix}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * An ed25519 key made for the suite (beforeAll, removed afterAll), and OpenSSH into a job's SSH
 * server with it as root, host keys unchecked.
 */
export function jobSshKey(): { publicKey(): string; ssh(port: number, command: string, timeoutMs?: number): Promise<RunResult> } {
  let dir: { path: string; cleanup: () => void } | undefined;
  const key = () => join(dir!.path, 'id_ed25519');
  beforeAll(async () => {
    dir = tempDir('sshkey');
    await mustRun('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key()]);
  });
  afterAll(() => dir?.cleanup());
  return {
    publicKey: () => readFileSync(`${key()}.pub`, 'utf8').trim(),
    ssh: (port, command, timeoutMs = 60_000) =>
      run(
        'ssh',
        [
          '-F',
          '/dev/null',
          '-i',
          key(),
          '-p',
          String(port),
          '-o',
          'IdentitiesOnly=yes',
          '-o',
          'BatchMode=yes',
          '-o',
          'StrictHostKeyChecking=no',
          '-o',
          'UserKnownHostsFile=/dev/null',
          '-o',
          'LogLevel=ERROR',
          'root@127.0.0.1',
          command,
        ],
        { timeoutMs },
      ),
  };
}
