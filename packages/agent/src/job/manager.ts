// All jobs of this agent: submit (idempotent by job_id), look up, stop, remove, update, code upload,
// and recovery of every saved job when the agent starts.
import { existsSync, readdirSync } from 'node:fs';
import type { BlobChunk, CommitCodeResponse, Job as JobProto, JobSpec, PutBlobsResponse, PutManifestRequest, PutManifestResponse } from '@dstack/core/gen/agent';
import type { DataDir } from '../datadir';
import type { DockerEngine } from '../docker/engine';
import { FailedPrecondition, InvalidArgument, NotFound } from '../errors';
import type { EventBus } from '../events';
import { nvidiaGpus } from '../hostinfo/index';
import { logger } from '../logger';
import { PathError } from '../code/paths';
import { UnknownUpload, Uploads } from '../code/uploads';
import { DockerRuntime } from '../runtime/docker';
import { HostRuntime } from '../runtime/host';
import type { Runtime } from '../runtime/runtime';
import { jobEnv } from './env';
import { Job } from './job';

const JOB_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export class JobManager {
  private readonly jobs = new Map<string, Job>();
  private readonly docker: DockerRuntime;
  private readonly host = new HostRuntime();
  readonly uploads: Uploads;
  private hostGpus: Promise<number> | undefined;

  constructor(
    private readonly dataDir: DataDir,
    instanceId: string,
    private readonly engine: DockerEngine,
    private readonly bus: EventBus,
    private readonly logCap: number,
  ) {
    this.docker = new DockerRuntime(engine, instanceId);
    this.uploads = new Uploads(dataDir.uploadsDir, dataDir.blobsDir);
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
    if (!job) throw new NotFound(`job ${JSON.stringify(jobId)} is unknown to this agent`);
    return job;
  }

  list(): Job[] {
    return [...this.jobs.values()].sort((a, b) => a.status.submittedMs - b.status.submittedMs);
  }

  private gpuCount(): Promise<number> {
    this.hostGpus ??= nvidiaGpus().then((g) => g.length);
    return this.hostGpus;
  }

  async submit(spec: JobSpec | undefined): Promise<JobProto> {
    if (!spec) throw new InvalidArgument('SubmitJob needs a spec');
    if (!JOB_ID_RE.test(spec.jobId)) throw new InvalidArgument(`job_id ${JSON.stringify(spec.jobId)}: 1-128 letters, digits, '.', '_' or '-'`);
    const known = this.jobs.get(spec.jobId);
    if (known) return known.proto();
    if (!['', 'docker', 'host'].includes(spec.runtime)) throw new InvalidArgument(`runtime ${JSON.stringify(spec.runtime)}: use "docker", "host" or "" (docker when an engine answers)`);
    let runtime: 'docker' | 'host';
    if (spec.runtime === 'host') runtime = 'host';
    else if (await this.engine.ping()) runtime = 'docker';
    else if (spec.runtime === 'docker') throw new FailedPrecondition(`runtime docker: no Docker engine answers at ${this.engineAddress()}`);
    else runtime = 'host';
    if (runtime === 'docker' && !spec.image) throw new InvalidArgument('a docker job needs an image');
    // A second SubmitJob racing the first (a retried call) gets the same job.
    const raced = this.jobs.get(spec.jobId);
    if (raced) return raced.proto();
    const gpus = await this.gpuCount();
    const job = Job.create(this.ctx, this.dataDir.jobDir(spec.jobId), spec, runtime, (wd) => jobEnv(spec, wd, gpus, runtime));
    this.jobs.set(job.id, job);
    logger.info(`job ${job.id}: submitted (runtime ${runtime}, image ${spec.image || '-'})`);
    const answer = job.proto();
    setImmediate(() => void job.run());
    return answer;
  }

  private engineAddress(): string {
    const e = this.engine.endpoint;
    return e.socketPath ?? `${e.host}:${e.port}`;
  }

  async stop(jobId: string, abort: boolean, grace: number): Promise<JobProto> {
    const job = this.get(jobId);
    await job.stop(abort, grace || 10);
    return job.proto();
  }

  async remove(jobId: string): Promise<void> {
    const job = this.jobs.get(jobId);
    if (!job) return; // removing twice is fine
    if (!job.finished) await job.stop(true, 0);
    this.jobs.delete(jobId);
    job.removeFiles();
    logger.info(`job ${jobId}: removed`);
  }

  update(jobId: string, keys: string[]): JobProto {
    const job = this.get(jobId);
    job.updateAuthorizedKeys(keys);
    return job.proto();
  }

  putManifest(req: PutManifestRequest): PutManifestResponse {
    this.get(req.jobId);
    try {
      return this.uploads.put(req);
    } catch (err) {
      throw new InvalidArgument((err as Error).message);
    }
  }

  async putBlobs(chunks: AsyncIterable<BlobChunk>): Promise<PutBlobsResponse> {
    try {
      return await this.uploads.receive(chunks);
    } catch (err) {
      if (err instanceof UnknownUpload) throw new NotFound(err.message);
      throw new InvalidArgument((err as Error).message);
    }
  }

  commit(uploadId: string): CommitCodeResponse {
    let upload;
    try {
      upload = this.uploads.get(uploadId);
    } catch (err) {
      throw new NotFound((err as Error).message);
    }
    const job = this.get(upload.jobId);
    const synced = job.readSyncState();
    let res: CommitCodeResponse;
    try {
      res = this.uploads.commit(uploadId, job.codeDir, synced);
    } catch (err) {
      if (err instanceof PathError) throw new InvalidArgument(err.message);
      throw new FailedPrecondition((err as Error).message);
    } finally {
      // What was written before an error is on disk: remember it.
      job.writeSyncState(synced);
    }
    job.note(`code committed: ${res.written} written, ${res.removed} removed${res.conflicts.length ? `, ${res.conflicts.length} conflict(s) kept as *.remote-conflict` : ''}`);
    job.codeCommitted();
    return res;
  }

  /** Shutdown RPC: stop every job. */
  async stopAll(): Promise<void> {
    await Promise.all(this.list().filter((j) => !j.finished).map((j) => j.stop(false, 10).catch(() => {})));
  }

  /** Agent exit without Shutdown: jobs stay up; a later agent picks them up. */
  detachAll(): void {
    for (const j of this.jobs.values()) j.detach();
  }
}
