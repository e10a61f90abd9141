// One job: its files, its state (job/state.ts's table, saved before it takes effect), and the steps
// that move it: pull, wait for code, start (container or host process, profile, dockerd for
// `docker: true`, init commands, IDE server, SSH server), run until stopped. A job loaded after an agent restart carries on from the
// state it was saved in: a running job keeps its container, log and SSH port.
//
// Secrets (the spec's secret_env values, the registry password) live in memory only: job.json and
// every answer hold the names with the values masked. A job loaded after a restart whose secrets
// are still needed reports awaiting_secrets and waits (its pull, init and new SSH sessions; a running
// job's process is watched meanwhile) until the daemon sends them again (SetJobSecrets).
import { existsSync, lchownSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, posix } from 'node:path';
import {
  JobState,
  LogStream,
  type Activity,
  type Job as JobProto,
  type JobLimits,
  type JobSpec,
  type JobStatus,
  type RegistryAuth,
} from '@dstack/core/gen/agent';
import { writeFileAtomic, writeJsonAtomic } from '@dstack/core/atomic-write';
import { readJson, readJsonOr } from '../files';
import { HeldDir } from '../safe-fs/held-dir';
import { TreeDirs, checkRelPath } from '../safe-fs/tree-dirs';
import { chownTree, removeEntry } from '../safe-fs/tree-walk';
import { BadRequestError, PreconditionError } from '@dstack/core/grpc';
import { JobLog, LineSplitter } from '../logs/job-log';
import { logRedactor } from '../logs/redact';
import { logger } from '../logger';
import type { EventBus } from '../events';
import { PullError } from '../docker/pull';
import { JobError, shellPath, type OutputStream, type Runtime, type RuntimeJob, type RuntimeState } from '../runtime/runtime';
import { generateHostKey, startJobSshServer, type JobSshServer } from '../ssh-server/server';
import type { SyncedTree } from '../code/sync';
import { startDockerd } from './dind';
import { putJobFiles, stashFiles, withoutContent } from './files';
import { cloneRepos } from './repos';
import { installIdeServer } from './ide';
import { ReadyGate, gatedTarget } from './ready-target';
import { isFinished, next, stateName, type JobEvent } from './state';

export interface JobContext {
  bus: EventBus;
  logCap: number;
  runtimeOf(kind: 'docker' | 'host'): Runtime;
}

interface Internal {
  /** The job's env without its secrets (those are held in memory only). */
  env: Record<string, string>;
  workingDir: string;
  /** Init commands done; `initRunning` is set while one runs (a restart then cannot tell its outcome). */
  initDone: number;
  /** `files:` written and `repos:` cloned (job/files.ts, job/repos.ts): not again after an agent restart. */
  filesDone?: boolean;
  initRunning?: number;
  sshPort?: number;
  /**
   * A stop under way; `reason`/`message` when the agent stopped the job itself (a limit); `keep`:
   * its container is stopped, not removed (StopJob keep).
   */
  stop?: { abort: boolean; grace: number; reason?: string; message?: string; keep?: boolean };
  /**
   * Resumed from its kept container: its code dir holds what the instance changed, so no commit
   * makes it exactly the upload (every commit merges, as live sync's).
   */
  resumed?: boolean;
  /** The container user that owns the code (a job with `user`); unset: the agent's user. */
  codeOwner?: { uid: number; gid: number };
}

interface JobFile {
  spec: JobSpec;
  status: JobStatus;
  rt: RuntimeState;
  internal: Internal;
}

const NO_AUTH: RegistryAuth = { username: '', password: '' };
/** What answers and job.json hold in place of a secret value. */
export const MASKED = '***';

/** The job's secrets, held in memory only. */
export interface JobSecrets {
  env: Record<string, string>;
  /** Until the pull. */
  registryAuth?: RegistryAuth;
}

/**
 * The spec as saved and returned: secret env values masked, no registry password, and the registry
 * user masked too (it may come from a secret: `${{ secrets.NAME }}`).
 */
function maskedSpec(spec: JobSpec): JobSpec {
  return {
    ...spec,
    secretEnv: Object.fromEntries(Object.keys(spec.secretEnv).map((k) => [k, MASKED])),
    registryAuth: spec.registryAuth ? { ...NO_AUTH, username: spec.registryAuth.username ? MASKED : '' } : undefined,
    // The bytes of `files:` wait in the job's folder (job/files.ts), not in job.json or answers.
    files: withoutContent(spec.files),
  };
}
/** How long a stop waits for a step in flight before tearing down anyway. */
const STEP_WAIT_MS = 60_000;

export class Job implements RuntimeJob {
  readonly id: string;
  readonly spec: JobSpec;
  status: JobStatus;
  readonly state: RuntimeState;
  private readonly internal: Internal;
  private readonly dir: string;
  private readonly log: JobLog;
  private readonly splitters: Record<OutputStream, LineSplitter>;
  private ssh: JobSshServer | undefined;
  /** Opens once the job can take SSH sessions (container started, profile written). */
  private readonly ready = new ReadyGate();
  private sshStarting: Promise<void> | undefined;
  private readonly abort = new AbortController();
  private stopRequested = false;
  private stopping: Promise<void> | undefined;
  /** The steps now making something (image pull, container, init): a stop waits for them to end. */
  private readonly inFlight = new Set<Promise<void>>();
  /** The container being started while the code is still on its way (docker). */
  private containerUp: Promise<void> | undefined;
  /** Set once a stop's teardown ran: what a late step still made is torn down again. */
  private tornDown = false;
  /** Set once the job's files are deleted: nothing is saved any more. */
  private removed = false;
  private codeWaiter: (() => void) | undefined;
  private activityTimer: NodeJS.Timeout | undefined;
  private readonly runtime: Runtime;
  /** Secret env values; undefined after a restart until the daemon sends them again. */
  private secretEnv: Record<string, string> | undefined;
  /** Masks the secret env values in the job's log lines. */
  private redact: (line: Buffer) => Buffer = (line) => line;
  /** Kept in memory only until the pull; never in job.json or answers. */
  private registryAuth: RegistryAuth | undefined;
  private secretsWaiter: (() => void) | undefined;

  private constructor(
    private readonly ctx: JobContext,
    dir: string,
    file: JobFile,
    secrets?: JobSecrets,
  ) {
    this.dir = dir;
    this.id = file.spec.jobId;
    this.spec = file.spec;
    this.status = file.status;
    this.state = file.rt;
    this.internal = file.internal;
    this.runtime = ctx.runtimeOf(file.status.runtime as 'docker' | 'host');
    this.log = new JobLog(join(dir, 'logs'), ctx.logCap);
    const split = (stream: LogStream) => new LineSplitter((line) => this.appendLog(stream, line));
    this.splitters = { stdout: split(LogStream.LOG_STREAM_STDOUT), stderr: split(LogStream.LOG_STREAM_STDERR) };
    this.secretEnv = secrets?.env;
    if (this.secretEnv) this.redact = logRedactor(Object.values(this.secretEnv));
    this.registryAuth = secrets?.registryAuth;
    this.status.awaitingSecrets = this.lacksSecrets();
    // A job found running after an agent restart takes sessions at once (once it has its secrets).
    if (this.status.state === JobState.JOB_STATE_RUNNING && !this.status.awaitingSecrets) this.ready.open();
  }

  /** Secrets the job still needs are not in memory (an agent restart lost them). */
  private lacksSecrets(): boolean {
    if (this.finished) return false;
    return (Object.keys(this.spec.secretEnv).length > 0 && !this.secretEnv) || this.lacksRegistryAuth();
  }

  /** The image is yet to be pulled with a registry login the agent does not hold. */
  private lacksRegistryAuth(): boolean {
    const pullAhead = this.status.state === JobState.JOB_STATE_SUBMITTED || this.status.state === JobState.JOB_STATE_PULLING;
    return pullAhead && !!this.spec.registryAuth?.username && !this.registryAuth;
  }

  /** A new job, saved as submitted. */
  static create(
    ctx: JobContext,
    dir: string,
    spec: JobSpec,
    runtime: 'docker' | 'host',
    env: (workingDir: string) => Record<string, string>,
  ): Job {
    mkdirSync(join(dir, 'workflow'), { recursive: true, mode: 0o755 });
    stashFiles(dir, spec.files);
    const codeDir = join(dir, 'workflow');
    const wd = spec.workingDir;
    // In a container the code is /workflow; on the host it is the job's workflow dir, and a
    // working_dir given as /workflow/... (what a daemon sends for containers) maps into it.
    const workingDir =
      runtime === 'docker'
        ? !wd
          ? '/workflow'
          : wd.startsWith('/')
            ? wd
            : posix.join('/workflow', wd)
        : join(codeDir, wd.replace(/^\/workflow(\/|$)/, '').replace(/^\/+/, ''));
    const secrets: JobSecrets = { env: { ...spec.secretEnv }, registryAuth: spec.registryAuth?.username ? spec.registryAuth : undefined };
    const file: JobFile = {
      spec: maskedSpec(spec),
      status: {
        jobId: spec.jobId,
        state: JobState.JOB_STATE_SUBMITTED,
        message: '',
        reason: '',
        exitCode: 0,
        runtime,
        containerId: '',
        sshPort: 0,
        sshHostKey: '',
        submittedMs: Date.now(),
        startedMs: 0,
        finishedMs: 0,
        workingDir,
        codeReady: false,
        awaitingSecrets: false,
        kept: false,
        keptSizeBytes: 0,
      },
      rt: {},
      internal: { env: env(workingDir), workingDir, initDone: 0 },
    };
    writeJsonAtomic(join(dir, 'job.json'), file);
    const job = new Job(ctx, dir, file, secrets);
    job.note(`job submitted (runtime ${runtime}${spec.image && runtime === 'docker' ? `, image ${spec.image}` : ''})`);
    return job;
  }

  /**
   * SubmitJob with resume: the job stopped with its container kept starts again, in that container,
   * with the new spec (keys, env, secrets, limits, SSH port); its init commands are not run again
   * (their effects are in the container), and it waits for its code, which the daemon merges in.
   */
  static resume(ctx: JobContext, dir: string, spec: JobSpec, env: (workingDir: string) => Record<string, string>): Job {
    const file = readJson<JobFile>(join(dir, 'job.json'));
    if (!file.status.kept) throw new PreconditionError(`job ${file.spec.jobId} was not stopped with its container kept`);
    const old = file.status;
    const state = next(old.state, 'resume');
    const secrets: JobSecrets = { env: { ...spec.secretEnv }, registryAuth: spec.registryAuth?.username ? spec.registryAuth : undefined };
    const resumed: JobFile = {
      // What the container was made with stays (image, mounts, GPUs); what may change comes with the new spec.
      spec: maskedSpec({ ...spec, image: file.spec.image, runtime: file.spec.runtime }),
      status: {
        ...old,
        state,
        message: 'resumed from its kept container',
        reason: '',
        exitCode: 0,
        sshPort: 0,
        sshHostKey: '',
        submittedMs: Date.now(),
        startedMs: 0,
        finishedMs: 0,
        codeReady: false,
        awaitingSecrets: false,
        kept: false,
        keptSizeBytes: 0,
      },
      rt: file.rt,
      internal: {
        ...file.internal,
        env: env(file.internal.workingDir),
        stop: undefined,
        sshPort: undefined,
        initRunning: undefined,
        initDone: spec.init.length,
        resumed: true,
      },
    };
    writeJsonAtomic(join(dir, 'job.json'), resumed);
    const job = new Job(ctx, dir, resumed, secrets);
    job.note(`job resumed from its kept container ${old.containerId.slice(0, 12)}`);
    job.publishStatus();
    return job;
  }

  /** Resumed from a kept container: commits merge (they never make the code dir exactly the upload). */
  get resumed(): boolean {
    return Boolean(this.internal.resumed);
  }

  static load(ctx: JobContext, dir: string): Job {
    const file = readJson<JobFile>(join(dir, 'job.json'));
    file.spec.secretEnv ??= {}; // saved by an agent from before secret_env
    return new Job(ctx, dir, file);
  }

  /** The env of the job's processes: its secrets included. */
  get env(): Record<string, string> {
    return { ...this.secretEnv, ...this.internal.env };
  }
  get codeDir(): string {
    return join(this.dir, 'workflow');
  }
  get workingDir(): string {
    return this.internal.workingDir;
  }
  /** The job's user, who owns the code dir; known once the container is up. */
  get codeOwner(): { uid: number; gid: number } | undefined {
    return this.internal.codeOwner;
  }
  get finished(): boolean {
    return isFinished(this.status.state);
  }

  persist(): void {
    if (this.removed) return;
    const containerId = this.state.containerId ?? '';
    const newContainer = containerId !== this.status.containerId;
    this.status.containerId = containerId;
    // `spec` and `internal.env` hold no secret value (create() kept them out).
    writeJsonAtomic(join(this.dir, 'job.json'), {
      spec: this.spec,
      status: this.status,
      rt: this.state,
      internal: this.internal,
    } satisfies JobFile);
    // The container is made beside the code upload: its id is reported as soon as it exists.
    if (newContainer) this.publishStatus();
  }

  proto(): JobProto {
    return { spec: this.spec, status: { ...this.status } };
  }

  private publishStatus(): void {
    this.ctx.bus.publish({ timeMs: Date.now(), jobId: this.id, payload: { $case: 'status', value: { ...this.status } } });
  }

  /** Moves the job along the table: saved to disk first, then announced. */
  private fire(event: JobEvent, patch: Partial<JobStatus> = {}): void {
    const to = next(this.status.state, event);
    this.status = { ...this.status, ...patch, state: to };
    this.persist();
    this.note(`job ${stateName(to)}${patch.message ? `: ${patch.message}` : ''}`);
    this.publishStatus();
  }

  // ---- logs -----------------------------------------------------------------------------------
  private appendLog(stream: LogStream, data: Buffer): void {
    if (this.removed) return;
    const line = this.log.append(stream, this.redact(data));
    this.ctx.bus.publish({ timeMs: line.timeMs, jobId: this.id, payload: { $case: 'log', value: line } });
  }

  note(message: string): void {
    this.appendLog(LogStream.LOG_STREAM_AGENT, Buffer.from(`${message}\n`));
  }

  private output = (stream: OutputStream, data: Buffer): void => this.splitters[stream].write(data);

  readLogs(fromOffset: number, sinceMs: number, limitBytes: number) {
    return this.log.read(fromOffset, { sinceMs, limitBytes: limitBytes || 1 << 20 });
  }

  // ---- activity -------------------------------------------------------------------------------
  activity(): Activity {
    if (this.ssh) return this.ssh.activity();
    const since = this.status.startedMs || this.status.submittedMs;
    return {
      shellSessions: 0,
      execSessions: 0,
      sftpSessions: 0,
      portForwards: 0,
      inactiveSeconds: Math.max(0, Math.floor((Date.now() - since) / 1000)),
    };
  }

  private publishActivity(a: Activity = this.activity()): void {
    this.ctx.bus.publish({ timeMs: Date.now(), jobId: this.id, payload: { $case: 'activity', value: a } });
  }

  // ---- the steps ------------------------------------------------------------------------------
  /** Drives the job from its saved state until it runs (and then until its main process exits). */
  async run(): Promise<void> {
    try {
      if (this.status.state === JobState.JOB_STATE_STOPPING) return await (this.stopping ??= this.finishStop());
      if (this.status.state === JobState.JOB_STATE_STARTING && this.internal.initRunning !== undefined) {
        const cmd = this.spec.init[this.internal.initRunning];
        throw new JobError('executor_error', `the agent restarted while init command \`${cmd}\` was running; its outcome is unknown`);
      }
      // The SSH server first: its port and host key go out with the next report, so the daemon can
      // write the Host block as soon as the job starts; sessions wait for the ready gate.
      if (!this.stopRequested && !this.finished) await this.ensureSsh();
      // A running job goes on watching its process; its new sessions wait (the ready gate).
      if (this.status.state !== JobState.JOB_STATE_RUNNING) await this.secretsArrived();
      for (;;) {
        if (this.stopRequested || this.finished) return;
        switch (this.status.state) {
          case JobState.JOB_STATE_SUBMITTED:
            this.fire('pull');
            break;
          case JobState.JOB_STATE_PULLING:
            await this.track(() =>
              this.runtime.prepare(
                this,
                this.registryAuth,
                (p) => this.ctx.bus.publish({ timeMs: Date.now(), jobId: this.id, payload: { $case: 'pull', value: p } }),
                this.abort.signal,
              ),
            );
            if (this.stopRequested) return;
            this.registryAuth = undefined;
            // A container needs no code to start (the code dir is bind-mounted): start it now, so the
            // code upload, the daemon's SSH block and the first SSH handshake overlap with it. A host
            // job's process starts in its working dir, which may come with the code.
            if (this.runtime.kind === 'docker') {
              this.containerUp = this.track(() => this.runtime.start(this, this.abort.signal));
              this.containerUp.catch(() => {}); // awaited by the next steps
            }
            this.fire(this.spec.expectCode && !this.status.codeReady ? 'wait_code' : 'start');
            break;
          case JobState.JOB_STATE_WAITING_CODE:
            if (!this.status.codeReady) {
              const code = new Promise<void>((resolve) => (this.codeWaiter = resolve));
              // A container that fails to start fails the job now, not when the code comes.
              const failed = this.containerUp?.then(() => new Promise<void>(() => {}));
              await (failed ? Promise.race([code, failed]) : code);
            }
            if (this.stopRequested) return;
            this.fire('start');
            break;
          case JobState.JOB_STATE_STARTING:
            await this.track(() => this.startUp());
            if (this.stopRequested) return;
            this.fire('ready', { startedMs: Date.now() });
            this.startActivityTimer();
            break;
          case JobState.JOB_STATE_RUNNING: {
            await this.ensureSsh();
            this.startActivityTimer();
            const code = await this.runtime.waitExit(this);
            if (this.stopRequested) return;
            await this.exited(code);
            return;
          }
          default:
            return;
        }
      }
    } catch (err) {
      if (this.stopRequested) return;
      await this.failWith(err);
    }
  }

  /**
   * Runs a step that makes things a stop must find (a pulled image's pull, a container, processes).
   * A stop waits for the step to end (the abort signal cuts it short) before it tears down, so it
   * sees everything the step made; should the step outlast that wait, what it made is torn down
   * when it ends.
   */
  private async track(step: () => Promise<void>): Promise<void> {
    const p = step();
    const settled = p.then(
      () => {},
      () => {},
    );
    this.inFlight.add(settled);
    try {
      await p;
    } finally {
      this.inFlight.delete(settled);
      if (this.tornDown)
        await this.runtime
          .stop(this, 0, { keep: this.internal.stop?.keep })
          .catch((err) => logger.warn(`job ${this.id}: late cleanup failed: ${(err as Error).message}`));
    }
  }

  private async startUp(): Promise<void> {
    await (this.containerUp ?? this.runtime.start(this, this.abort.signal));
    if (this.stopRequested) return;
    // A working dir inside the code that the repo lacks (the container made it before the code came).
    const wd = posix.normalize(this.workingDir);
    if (this.runtime.kind === 'docker' && wd.startsWith('/workflow/')) {
      // Made from the held code dir, never through a link the job put on the way.
      const tree = TreeDirs.open(this.codeDir, { create: { mode: 0o755 } });
      try {
        tree.with(checkRelPath(wd.slice('/workflow/'.length)), () => {});
      } finally {
        tree.close();
      }
    }
    const owner = await this.runtime.codeOwner(this);
    if (owner) {
      // Commits from now on write as the job's user; one that came before wrote as the agent's.
      this.internal.codeOwner = owner;
      this.persist();
      // No code yet (or none coming): the empty code dir is still the user's to write.
      if (this.status.codeReady) await this.giveCode(owner);
      else lchownSync(this.codeDir, owner.uid, owner.gid);
    }
    // `files:` then `repos:` URLs, over the code (its first commit makes /workflow exactly the repo).
    if (!this.internal.filesDone) {
      await putJobFiles(this.runtime, this, this.dir);
      await cloneRepos(this.runtime, this, this.output, this.abort.signal);
      if (this.stopRequested) return;
      this.internal.filesDone = true;
      this.persist();
    }
    await this.runtime.installProfile(this);
    if (this.stopRequested) return;
    // Sessions may start now, before init, so a user can look at a long init from inside.
    this.ready.open();
    // docker: true: the container's own dockerd, before init (as dstack's start-dockerd).
    await startDockerd(this.runtime, this, this.output, this.abort.signal);
    this.splitters.stdout.flush();
    this.splitters.stderr.flush();
    if (this.stopRequested) return;
    const init = this.spec.init;
    for (let i = this.internal.initDone; i < init.length; i++) {
      this.internal.initRunning = i;
      this.persist();
      this.note(`init ${i + 1}/${init.length}: ${init[i]}`);
      const code = await this.runtime.exec(this, init[i], this.output, { signal: this.abort.signal, shell: shellPath(this.spec.shell) });
      this.splitters.stdout.flush();
      this.splitters.stderr.flush();
      if (this.stopRequested) return;
      if (code !== 0) throw new JobError('init_failed', `init command \`${init[i]}\` failed with exit code ${code}`, code);
      this.internal.initDone = i + 1;
      this.internal.initRunning = undefined;
      this.persist();
    }
    await installIdeServer(this.runtime, this, this.abort.signal, this.dir);
  }

  private async ensureSsh(): Promise<void> {
    if (this.ssh) return;
    this.sshStarting ??= (async () => {
      const keyFile = join(this.dir, 'ssh_host_key');
      if (!existsSync(keyFile)) writeFileAtomic(keyFile, generateHostKey().privatePem);
      const hostKeyPem = readFileSync(keyFile, 'utf8');
      const port = this.internal.sshPort || this.spec.sshPort || 0;
      let lastErr: unknown;
      // After a restart the port is this job's own: retry a moment if the old socket lingers.
      for (let attempt = 0; attempt < 20; attempt++) {
        try {
          this.ssh = await startJobSshServer({
            hostKeyPem,
            authorizedKeys: this.spec.authorizedKeys,
            target: gatedTarget(this.runtime.kind, this.workingDir, this.ready, () => this.runtime.target(this)),
            port,
            onActivity: (a) => this.publishActivity(a),
            log: (line) => logger.info(`job ${this.id}: ${line}`),
            limits: this.spec.sshServer,
          });
          break;
        } catch (err) {
          lastErr = err;
          if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || !port) break;
          await new Promise((r) => setTimeout(r, 500));
        }
      }
      if (!this.ssh)
        throw new JobError('executor_error', `cannot start the job's SSH server on port ${port}: ${(lastErr as Error).message}`);
      this.internal.sshPort = this.ssh.port;
      this.status = { ...this.status, sshPort: this.ssh.port, sshHostKey: this.ssh.hostPublicKey };
      this.persist();
      this.note(`SSH server listening on 127.0.0.1:${this.ssh.port}`);
      this.publishStatus();
    })().finally(() => (this.sshStarting = undefined));
    await this.sshStarting;
  }

  private startActivityTimer(): void {
    if (this.activityTimer) return;
    // inactive_seconds grows with no session changing: report it now and then.
    this.activityTimer = setInterval(() => this.publishActivity(), 10_000);
    this.activityTimer.unref();
  }

  private async teardown(grace: number, keep = false): Promise<void> {
    this.ready.fail(new Error(`the job is ${stateName(this.status.state)}${this.status.message ? `: ${this.status.message}` : ''}`));
    if (this.activityTimer) clearInterval(this.activityTimer);
    this.activityTimer = undefined;
    try {
      await this.runtime.stop(this, grace, { keep });
      if (this.stopRequested) this.tornDown = true;
    } finally {
      // The SSH server last: sessions that waited for the job have written why it will not run,
      // and those in the job have seen their processes end, before connections are cut.
      await this.sshStarting?.catch(() => {});
      await new Promise((r) => setImmediate(r));
      await this.ssh?.close().catch(() => {});
      this.ssh = undefined;
    }
  }

  private async exited(code: number): Promise<void> {
    if (code === 0) this.fire('exit_ok', { exitCode: 0, finishedMs: Date.now(), message: "the job's main process exited" });
    else
      this.fire('fail', {
        reason: 'container_error',
        exitCode: code,
        finishedMs: Date.now(),
        message: code < 0 ? "the job's process exited while the agent was down" : `the job's main process exited with code ${code}`,
      });
    await this.teardown(0).catch((err) => this.note(`cleanup failed: ${(err as Error).message}`));
  }

  private async failWith(err: unknown): Promise<void> {
    const e = err as Error;
    const reason = err instanceof JobError || err instanceof PullError ? err.reason : 'executor_error';
    const exitCode = err instanceof JobError ? err.exitCode : 0;
    if (!(err instanceof JobError) && !(err instanceof PullError)) logger.error(`job ${this.id}: ${e.stack ?? e.message}`);
    this.splitters.stdout.flush();
    this.splitters.stderr.flush();
    if (!this.finished) this.fire('fail', { reason, message: e.message, exitCode, finishedMs: Date.now() });
    // A failed job holds nothing: its container (and GPUs) go; its logs and code stay until RemoveJob.
    await this.teardown(0).catch((cleanup) => this.note(`cleanup failed: ${(cleanup as Error).message}`));
  }

  // ---- requests from the daemon ---------------------------------------------------------------
  /** Graceful: SIGTERM, SIGKILL after `grace` seconds; abort: SIGKILL now. Resolves when stopped. */
  async stop(abort: boolean, grace: number, why?: { reason: string; message: string }, keep = false): Promise<void> {
    if (this.finished) return;
    if (!this.stopping) {
      this.stopRequested = true;
      // Only a container can be kept; an abort ends the job for good.
      this.internal.stop = { abort, grace, ...why, keep: keep && !abort && this.runtime.kind === 'docker' };
      this.fire('stop', { message: why?.message ?? (abort ? 'abort requested' : `stop requested (SIGKILL after ${grace} s)`) });
      this.abort.abort();
      this.codeWaiter?.();
      this.secretsWaiter?.();
      this.stopping = this.finishStop();
    } else if (abort) {
      // Escalate a graceful stop in progress (what it would have kept goes too).
      if (this.internal.stop) this.internal.stop.keep = false;
      await this.runtime.stop(this, 0).catch(() => {});
    }
    await this.stopping;
  }

  private async finishStop(): Promise<void> {
    this.stopRequested = true;
    const req = this.internal.stop ?? { abort: false, grace: 10 };
    try {
      // The abort signal ends a pull or an init command at once and a container create is short;
      // a step stuck past this bound is cleaned up when it ends (track()).
      await this.settled(this.inFlight.size ? Promise.all(this.inFlight).then(() => {}) : undefined, STEP_WAIT_MS);
      const keep = Boolean(req.keep);
      await this.teardown(req.abort ? 0 : req.grace, keep);
      const kept = keep && Boolean(this.state.containerId);
      const keptSizeBytes = kept ? ((await this.runtime.keptSize?.(this)) ?? 0) : 0;
      this.fire('stopped', {
        reason: req.reason ?? (req.abort ? 'aborted' : 'stopped'),
        message: req.message ?? (req.abort ? 'aborted on request' : kept ? 'stopped on request, its container kept' : 'stopped on request'),
        finishedMs: Date.now(),
        kept,
        keptSizeBytes,
      });
    } catch (err) {
      this.fire('fail', { reason: 'executor_error', message: `stop failed: ${(err as Error).message}`, finishedMs: Date.now() });
    }
  }

  private async settled(p: Promise<void> | undefined, ms: number): Promise<void> {
    if (!p) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([p, new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
    clearTimeout(timer);
  }

  /** Resolves once the job has the secrets it needs (at once unless a restart lost them), or on a stop. */
  private async secretsArrived(): Promise<void> {
    if (!this.status.awaitingSecrets || this.stopRequested) return;
    this.note("waiting for the daemon to send the job's secrets again (the agent restarted)");
    await new Promise<void>((resolve) => (this.secretsWaiter = resolve));
  }

  /**
   * SetJobSecrets: the secrets a restart lost. Each name of the spec's secret_env must come with a
   * value; a job that has its secrets keeps them (a second call changes nothing).
   */
  provideSecrets(env: Record<string, string>, registryAuth: RegistryAuth | undefined): void {
    if (!this.status.awaitingSecrets) return;
    const names = Object.keys(this.spec.secretEnv);
    const missing = names.filter((n) => env[n] === undefined);
    if (missing.length)
      throw new BadRequestError(`secret_env lacks ${missing.join(', ')}: the job was submitted with ${missing.length > 1 ? 'them' : 'it'}`);
    const unknown = Object.keys(env).filter((n) => !names.includes(n));
    if (unknown.length)
      throw new BadRequestError(`secret_env: ${unknown.join(', ')} ${unknown.length > 1 ? 'are' : 'is'} not among the job's secret names`);
    if (this.lacksRegistryAuth()) {
      if (!registryAuth?.password)
        throw new PreconditionError('the job has yet to pull its image: registry_auth with the password is needed');
      if (!registryAuth.username) throw new BadRequestError('registry_auth: the job was submitted with a user');
      this.registryAuth = registryAuth;
    }
    this.secretEnv = Object.fromEntries(names.map((n) => [n, env[n]]));
    this.redact = logRedactor(Object.values(this.secretEnv));
    this.status = { ...this.status, awaitingSecrets: false };
    this.persist();
    this.note("the job's secrets arrived");
    this.publishStatus();
    if (this.status.state === JobState.JOB_STATE_RUNNING) this.ready.open();
    this.secretsWaiter?.();
    this.secretsWaiter = undefined;
  }

  updateAuthorizedKeys(keys: string[]): void {
    this.spec.authorizedKeys = keys;
    this.persist();
    this.ssh?.updateAuthorizedKeys(keys);
  }

  updateLimits(limits: JobLimits): void {
    this.spec.limits = limits;
    this.persist();
  }

  /**
   * The code dir handed to the job's user, through held folders (safe-fs/tree-walk.ts): the job can
   * write the tree, and a folder it swaps for a link is never entered.
   */
  private async giveCode(owner: { uid: number; gid: number }): Promise<void> {
    lchownSync(this.codeDir, owner.uid, owner.gid);
    const root = HeldDir.open(this.codeDir);
    try {
      await chownTree(root, owner);
    } finally {
      root.close();
    }
  }

  /**
   * Called after a commit wrote the code: a job waiting for it goes on. `withoutOwner`: the commit
   * began before the job's user was known, so what it wrote is handed over now.
   */
  async markCodeReady(withoutOwner: boolean): Promise<void> {
    const owner = this.internal.codeOwner;
    if (owner && withoutOwner) await this.giveCode(owner);
    if (!this.status.codeReady) {
      this.status = { ...this.status, codeReady: true };
      this.persist();
      this.publishStatus();
    }
    this.codeWaiter?.();
  }

  get syncedTreeFile(): string {
    return join(this.dir, 'synced.json');
  }

  readSyncedTree(): SyncedTree {
    return readJsonOr<SyncedTree>(this.syncedTreeFile, {});
  }

  writeSyncedTree(s: SyncedTree): void {
    // One line: a 20,000-file repo's record is megabytes, indented even more.
    writeFileAtomic(this.syncedTreeFile, JSON.stringify(s));
  }

  /** Stops the job's activity reports and closes files (agent exit: the job itself stays up). */
  detach(): void {
    if (this.activityTimer) clearInterval(this.activityTimer);
    this.splitters.stdout.flush();
    this.splitters.stderr.flush();
    void this.ssh?.close();
    this.log.close();
  }

  /** Whether the job's container (or process) is still there: a kept one must be, to resume. */
  runtimeAlive(): Promise<boolean> {
    return this.runtime.exists ? this.runtime.exists(this) : this.runtime.alive(this);
  }

  /** A kept container goes (RemoveJob of a job stopped with keep). */
  async dropKept(): Promise<void> {
    if (!this.status.kept) return;
    await this.runtime.stop(this, 0);
    this.status = { ...this.status, kept: false, keptSizeBytes: 0 };
    this.persist();
  }

  /** Deletes the job's files (after it is finished). */
  async removeFiles(): Promise<void> {
    this.removed = true;
    this.log.close();
    // The code dir was the job's to write: removed through held folders, never following a link.
    if (existsSync(this.codeDir)) {
      const dir = HeldDir.open(this.dir);
      try {
        await removeEntry(dir, 'workflow');
      } finally {
        dir.close();
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
