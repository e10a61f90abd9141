// All jobs of this agent: submit (idempotent by job_id), look up, stop, remove, update, code upload,
// and recovery of every saved job when the agent starts.
import { existsSync, lstatSync, readdirSync, readlinkSync, symlinkSync, unlinkSync } from 'node:fs';
import type {
  BlobChunk,
  CodeFileChunk,
  ListCodeChangesResponse,
  CommitCodeResponse,
  GetMetricsResponse,
  Job as JobProto,
  JobLimits,
  JobSpec,
  PutBlobsResponse,
  PutManifestRequest,
  PutManifestResponse,
  SetJobSecretsRequest,
} from '@dstack/core/gen/agent';
import type { DataDir } from '../datadir';
import type { DockerEngine } from '../docker/engine';
import { BadRequestError, NotFoundError, PreconditionError } from '@dstack/core/grpc';
import type { EventBus } from '../events';
import { nvidiaGpus } from '../hostinfo/index';
import { logger } from '../logger';
import { PathError } from '../safe-fs/tree-dirs';
import { UnknownUpload, Uploads, type Upload } from '../code/uploads';
import { TreeCache } from '../code/tree-cache';
import { mergeCommit } from '../code/sync';
import { listCodeChanges, readCodeFiles } from '../code/changes';
import { commitExact, scanTree, type TreeScan } from '../code/tree-commit';
import { DockerRuntime } from '../runtime/docker';
import { HostRuntime } from '../runtime/host';
import type { Runtime } from '../runtime/runtime';
import { jobEnv } from './env';
import { Job } from './job';
import { exceededLimit, Watchers } from './limits';
import { MetricsSampler, hostGpuMetrics, readUsage } from '../metrics/sampler';

/** How often running jobs are checked against their limits while no daemon watches. */
const LIMITS_EVERY_MS = 5_000;

const JOB_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export class JobManager {
  private readonly jobs = new Map<string, Job>();
  private readonly docker: DockerRuntime;
  private readonly host: HostRuntime;
  readonly uploads: Uploads;
  readonly trees: TreeCache;
  /** Per job, the commit in progress: commits of one job run one after the other. */
  private readonly commits = new Map<string, Promise<unknown>>();
  /** Scans of adopted trees, started at SubmitJob, for the job's first commit. */
  private readonly scans = new Map<string, Promise<TreeScan>>();
  private hostGpus: Promise<number> | undefined;
  /** Daemons watching this agent (Events streams): the limits are theirs to enforce while one does. */
  readonly watchers = new Watchers();
  private limitsTimer: NodeJS.Timeout | undefined;
  /** CPU, memory and GPU samples of running jobs; also ends jobs by their utilization_policy. */
  readonly metrics: MetricsSampler;

  constructor(
    private readonly dataDir: DataDir,
    instanceId: string,
    private readonly engine: DockerEngine,
    private readonly bus: EventBus,
    private readonly logCap: number,
  ) {
    this.docker = new DockerRuntime(engine, instanceId, dataDir.root);
    this.host = new HostRuntime(dataDir.root);
    this.uploads = new Uploads(dataDir.uploadsDir, dataDir.blobsDir);
    this.trees = new TreeCache(dataDir.treesDir);
    this.metrics = new MetricsSampler({
      jobs: () => this.list(),
      gpus: hostGpuMetrics,
      usage: (job) => readUsage(engine, job),
      end: (jobId, why) => this.endAtLimit(jobId, why),
    });
  }

  private get ctx() {
    return { bus: this.bus, logCap: this.logCap, runtimeOf: (k: 'docker' | 'host'): Runtime => (k === 'docker' ? this.docker : this.host) };
  }

  /** Loads every saved job; unfinished ones carry on (a running one keeps its container). */
  recover(): void {
    for (const id of existsSync(this.dataDir.jobsDir) ? readdirSync(this.dataDir.jobsDir) : []) {
      try {
        const job = Job.load(this.ctx, this.dataDir.jobDir(id));
        this.jobs.set(job.id, job);
        if (!job.finished) {
          logger.info(`job ${job.id}: resuming in state ${job.status.state}`);
          void job.run();
        }
      } catch (err) {
        logger.error(`job dir ${id}: cannot load it: ${(err as Error).message}`);
      }
    }
  }

  get(jobId: string): Job {
    const job = this.jobs.get(jobId);
    if (!job) throw new NotFoundError(`job ${JSON.stringify(jobId)} is unknown to this agent`);
    return job;
  }

  list(): Job[] {
    return [...this.jobs.values()].sort((a, b) => a.status.submittedMs - b.status.submittedMs);
  }

  private gpuCount(): Promise<number> {
    this.hostGpus ??= nvidiaGpus().then((g) => g.length);
    return this.hostGpus;
  }

  async submit(spec: JobSpec | undefined, resume = false): Promise<JobProto> {
    if (!spec) throw new BadRequestError('SubmitJob needs a spec');
    if (!JOB_ID_RE.test(spec.jobId))
      throw new BadRequestError(`job_id ${JSON.stringify(spec.jobId)}: 1-128 letters, digits, '.', '_' or '-'`);
    const known = this.jobs.get(spec.jobId);
    if (known && resume) return this.resume(known, spec);
    if (resume) throw new PreconditionError(`job ${spec.jobId} is unknown to this agent: there is no kept container to resume`);
    if (known) return known.proto();
    if (!['', 'docker', 'host'].includes(spec.runtime))
      throw new BadRequestError(`runtime ${JSON.stringify(spec.runtime)}: use "docker", "host" or "" (docker when an engine answers)`);
    let runtime: 'docker' | 'host';
    if (spec.runtime === 'host') runtime = 'host';
    else if (await this.engine.ping()) runtime = 'docker';
    else if (spec.runtime === 'docker') throw new PreconditionError(`runtime docker: no Docker engine answers at ${this.engineAddress()}`);
    else runtime = 'host';
    if (runtime === 'docker' && !spec.image) throw new BadRequestError('a docker job needs an image');
    // Docker-in-Docker is a privileged container with its own dockerd: there is none on the host.
    if (runtime === 'host' && spec.docker) {
      if (spec.runtime === 'host') throw new BadRequestError('docker: true runs in a container: not with runtime "host"');
      throw new PreconditionError(
        `docker: true needs a Docker engine on the instance (for its privileged container); none answers at ${this.engineAddress()}`,
      );
    }
    // A second SubmitJob racing the first (a retried call) gets the same job.
    const raced = this.jobs.get(spec.jobId);
    if (raced) return raced.proto();
    const gpus = await this.gpuCount();
    const job = Job.create(this.ctx, this.dataDir.jobDir(spec.jobId), spec, runtime, (wd) => jobEnv(spec, wd, gpus, runtime));
    if (spec.expectCode) {
      // The tree an earlier job of this repo left: the first commit rewrites only what differs.
      const kept = this.trees.adopt(spec.repoId, job.codeDir);
      if (kept) {
        job.writeSyncedTree(kept.synced);
        const scan = scanTree(job.codeDir);
        scan.catch(() => {}); // the commit scans again
        this.scans.set(job.id, scan);
        job.note(`code dir: starting from the tree job ${kept.jobId} left; the code commit makes it exactly the uploaded repo`);
      }
    }
    if (runtime === 'host' && this.containerInstance) linkWorkflow(job.codeDir, this.dataDir.jobsDir, (m) => job.note(m));
    this.jobs.set(job.id, job);
    logger.info(`job ${job.id}: submitted (runtime ${runtime}, image ${spec.image || '-'})`);
    const answer = job.proto();
    setImmediate(() => void job.run());
    return answer;
  }

  /**
   * SubmitJob with resume: a job stopped with its container kept starts again in it (Job.resume); a
   * job already resumed (a retried call) answers as it is.
   */
  private async resume(known: Job, spec: JobSpec): Promise<JobProto> {
    if (!known.finished) return known.proto();
    if (!known.status.kept) throw new PreconditionError(`job ${known.id} was not stopped with its container kept: it cannot resume`);
    if (!(await known.runtimeAlive()))
      throw new PreconditionError(`the kept container of job ${known.id} is gone from the instance (removed outside dstack?)`);
    const gpus = await this.gpuCount();
    const runtime = known.status.runtime as 'docker' | 'host';
    known.detach();
    const job = Job.resume(this.ctx, this.dataDir.jobDir(known.id), spec, (wd) => jobEnv(spec, wd, gpus, runtime));
    this.jobs.set(job.id, job);
    logger.info(`job ${job.id}: resumed from its kept container`);
    const answer = job.proto();
    setImmediate(() => void job.run());
    return answer;
  }

  private engineAddress(): string {
    const e = this.engine.endpoint;
    return e.socketPath ?? `${e.host}:${e.port}`;
  }

  async stop(jobId: string, abort: boolean, grace: number, keep = false): Promise<JobProto> {
    const job = this.get(jobId);
    await job.stop(abort, grace || 10, undefined, keep);
    return job.proto();
  }

  async remove(jobId: string): Promise<void> {
    const job = this.jobs.get(jobId);
    if (!job) return; // removing twice is fine
    if (!job.finished) await job.stop(true, 0);
    await job.dropKept();
    this.jobs.delete(jobId);
    this.scans.delete(jobId);
    // Its code stays for the next job of the same repo (a re-apply), if it was ever committed.
    if (job.status.codeReady && this.trees.keep(job.spec.repoId, job.id, job.codeDir, job.readSyncedTree())) {
      logger.info(`job ${jobId}: code dir kept for the next job of repo ${job.spec.repoId}`);
    }
    await job.removeFiles();
    logger.info(`job ${jobId}: removed`);
  }

  /** SetJobSecrets: what an agent restart lost (see Job.provideSecrets). */
  setSecrets(req: SetJobSecretsRequest): JobProto {
    const job = this.get(req.jobId);
    job.provideSecrets(req.secretEnv, req.registryAuth);
    return job.proto();
  }

  update(jobId: string, keys: string[], limits?: JobLimits): JobProto {
    const job = this.get(jobId);
    if (keys.length || !limits) job.updateAuthorizedKeys(keys);
    if (limits) job.updateLimits(limits);
    return job.proto();
  }

  putManifest(req: PutManifestRequest): PutManifestResponse {
    this.get(req.jobId);
    try {
      return this.uploads.put(req);
    } catch (err) {
      throw new BadRequestError((err as Error).message);
    }
  }

  async putBlobs(chunks: AsyncIterable<BlobChunk>): Promise<PutBlobsResponse> {
    try {
      return await this.uploads.receive(chunks);
    } catch (err) {
      if (err instanceof UnknownUpload) throw new NotFoundError(err.message);
      throw new BadRequestError((err as Error).message);
    }
  }

  /** Commits of one job run one after the other (a live sync commit right behind the apply's). */
  async commitCode(uploadId: string): Promise<CommitCodeResponse> {
    let upload: Upload;
    try {
      upload = this.uploads.get(uploadId);
    } catch (err) {
      throw new NotFoundError((err as Error).message);
    }
    const before = this.commits.get(upload.jobId) ?? Promise.resolve();
    const mine = before.catch(() => {}).then(() => this.commitCodeNow(upload));
    this.commits.set(upload.jobId, mine);
    try {
      return await mine;
    } finally {
      if (this.commits.get(upload.jobId) === mine) this.commits.delete(upload.jobId);
    }
  }

  private async commitCodeNow(upload: Upload): Promise<CommitCodeResponse> {
    const t0 = Date.now();
    const job = this.get(upload.jobId);
    const synced = job.readSyncedTree();
    // A new job's first commit (it waits for its code, nobody has seen the tree): the code dir
    // becomes exactly the manifest's tree, fast when it starts from a kept one. Later commits
    // (live sync into a running job) keep what changed on the instance as *.remote-conflict.
    // A job resumed from its kept container holds the instance's edits: every commit of it merges.
    const exact = job.spec.expectCode && !job.status.codeReady && upload.full && !job.resumed;
    // Written as the job's user when it is known (the container is up); else handed over after.
    const owner = job.codeOwner;
    let res: CommitCodeResponse;
    let unchanged = 0;
    try {
      if (exact) {
        const scan = this.scans.get(job.id)?.catch(() => undefined);
        this.scans.delete(job.id);
        const r = await this.uploads.finish(upload, async (u) =>
          commitExact(job.codeDir, this.uploads.blobs, synced, u.entries, await scan, owner),
        );
        unchanged = r.unchanged;
        res = { written: r.written, removed: r.removed, conflicts: r.conflicts };
      } else
        res = await this.uploads.finish(upload, (u, inline) =>
          mergeCommit(job.codeDir, this.uploads.blobs, synced, { ...u, inline, owner }),
        );
    } catch (err) {
      if (err instanceof PathError) throw new BadRequestError(err.message);
      throw new PreconditionError((err as Error).message);
    } finally {
      // What was written before an error is on disk: remember it.
      job.writeSyncedTree(synced);
    }
    job.note(
      `code committed in ${((Date.now() - t0) / 1000).toFixed(2)} s: ${res.written} written, ${res.removed} removed${unchanged ? `, ${unchanged} unchanged` : ''}${res.conflicts.length ? `, ${res.conflicts.length} conflict(s) kept as *.remote-conflict` : ''}`,
    );
    await job.markCodeReady(!owner);
    return res;
  }

  /** ListCodeChanges: what differs in the job's code dir from what the agent last wrote (code/changes.ts). */
  async listCodeChanges(jobId: string): Promise<ListCodeChangesResponse> {
    const job = this.get(jobId);
    if (!job.status.codeReady && !job.status.kept) return { changes: [], noCode: true };
    return { changes: await listCodeChanges(job.codeDir, job.readSyncedTree()), noCode: false };
  }

  /** ReadCodeFiles: those files' bytes, read through held folders (code/changes.ts). */
  readCodeFiles(jobId: string, paths: string[]): AsyncGenerator<CodeFileChunk> {
    return readCodeFiles(this.get(jobId).codeDir, paths);
  }

  /**
   * Shutdown RPC: stop every job; `dropKept` (the data dir goes: fleet delete, uninstall): kept
   * containers too, which nothing could resume any more.
   */
  async stopAll(dropKept = false): Promise<void> {
    await Promise.all(
      this.list()
        .filter((j) => !j.finished)
        .map((j) => j.stop(false, 10).catch(() => {})),
    );
    if (dropKept)
      for (const j of this.list().filter((x) => x.status.kept))
        await j.dropKept().catch((err: Error) => logger.warn(`job ${j.id}: could not remove its kept container: ${err.message}`));
  }

  /** Starts checking running jobs against their limits (JobSpec.limits) while no daemon watches. */
  startLimits(): void {
    this.limitsTimer ??= setInterval(() => this.enforceLimits(), LIMITS_EVERY_MS);
    this.limitsTimer.unref();
  }

  /**
   * The instance is the job's own container (a container cloud): its root is the user's, so the
   * code is also at /workflow, where dstack puts it.
   */
  containerInstance = false;

  /**
   * Called once a job stopped at its limit: where the instance is the job's own container (a
   * container cloud), the agent then ends the container so it stops billing.
   */
  onLimitStop?: (jobId: string) => void;

  enforceLimits(now = Date.now()): void {
    const since = this.watchers.unwatchedSince();
    if (since === undefined) return;
    for (const job of this.jobs.values()) {
      const over = exceededLimit(job.spec.limits, job.status, job.activity(), since, now);
      if (over) this.endAtLimit(job.id, over);
    }
  }

  /**
   * Stops a job at a limit the agent enforces itself (JobSpec.limits: with no daemon watching, or the
   * utilization policy at any time), with the limit as its reason; then, with no daemon watching,
   * onLimitStop (a watching daemon ends the instance itself when it sees the job end).
   */
  endAtLimit(jobId: string, why: { reason: string; message: string }): void {
    const job = this.jobs.get(jobId);
    if (!job || job.finished) return;
    logger.info(`job ${job.id}: ${why.message}: stopping it`);
    void job
      .stop(false, 10, why)
      .then(() => {
        if (this.watchers.unwatchedSince() !== undefined) this.onLimitStop?.(job.id);
      })
      .catch((err: Error) => logger.warn(`job ${job.id}: stop at its limit failed: ${err.message}`));
  }

  /** GetMetrics: the job's samples (MetricsSampler), after `sinceMs`. */
  getMetrics(jobId: string, sinceMs: number): GetMetricsResponse {
    if (this.get(jobId).finished) this.metrics.forget(jobId);
    return this.metrics.samples(jobId, sinceMs);
  }

  /** Agent exit without Shutdown: jobs stay up; a later agent picks them up. */
  detachAll(): void {
    if (this.limitsTimer) clearInterval(this.limitsTimer);
    this.metrics.stop();
    for (const j of this.jobs.values()) j.detach();
  }
}

/**
 * /workflow → the job's code dir, in a container that is itself the instance. An image's own
 * /workflow is left alone; a link an earlier job made (into the jobs dir) is replaced.
 */
export function linkWorkflow(codeDir: string, jobsDir: string, note: (m: string) => void, at = '/workflow'): void {
  try {
    const st = lstatSync(at, { throwIfNoEntry: false });
    if (st?.isSymbolicLink() && readlinkSync(at).startsWith(`${jobsDir}/`)) unlinkSync(at);
    else if (st) {
      note(`${at} exists in the image: the code is at ${codeDir}`);
      return;
    }
    symlinkSync(codeDir, at);
    note(`code dir: also at ${at}`);
  } catch (err) {
    note(`could not link ${at} to the code dir: ${(err as Error).message}`);
  }
}
