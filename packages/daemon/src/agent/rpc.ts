// Promise-shaped calls to one agent (the generated AgentClient is callback-shaped). Every call has
// a deadline, so a wedged agent or a dead tunnel turns into an error instead of a hang.
import { Metadata, credentials, type ClientReadableStream, type ClientWritableStream, type ServiceError } from '@grpc/grpc-js';
import {
  AgentClient,
  type BlobChunk,
  type CodeFileChunk,
  type CommitCodeRequest,
  type CommitCodeResponse,
  type Event,
  type EventsRequest,
  type GetLogsRequest,
  type GetLogsResponse,
  type GetMetricsRequest,
  type GetMetricsResponse,
  type HandshakeRequest,
  type HandshakeResponse,
  type HostInfo,
  type Job,
  type JobSpec,
  type ListCodeChangesResponse,
  type PutBlobsResponse,
  type PutManifestRequest,
  type PutManifestResponse,
  type SetJobSecretsRequest,
  type StopJobRequest,
  type UpdateJobRequest,
} from '@dstack/core/gen/agent';
import { CHANNEL_OPTIONS } from '@dstack/core/grpc';

type Callback<T> = (err: ServiceError | null, res: T) => void;
type UnaryFn<Req, Res> = (req: Req, md: Metadata, opts: { deadline: number }, cb: Callback<Res>) => unknown;

export function isNotFound(err: unknown): boolean {
  return (err as ServiceError | undefined)?.code === 5;
}

export class AgentRpc {
  readonly client: AgentClient;

  /** `address`: a grpc-js target, e.g. unix:///path/to/bridge.sock */
  constructor(address: string) {
    this.client = new AgentClient(address, credentials.createInsecure(), {
      ...CHANNEL_OPTIONS,
      // The bridge may be slow to come back after a tunnel drop: retry the connection quickly.
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 2000,
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 10_000,
    });
  }

  private unary<Req, Res>(fn: UnaryFn<Req, Res>, req: Req, timeoutMs: number): Promise<Res> {
    return new Promise((resolve, reject) => {
      fn.call(this.client, req, new Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(err) : resolve(res)));
    });
  }

  handshake(req: HandshakeRequest, timeoutMs = 10_000): Promise<HandshakeResponse> {
    return this.unary(this.client.handshake as UnaryFn<HandshakeRequest, HandshakeResponse>, req, timeoutMs);
  }

  getHostInfo(timeoutMs = 30_000): Promise<HostInfo> {
    return this.unary(this.client.getHostInfo as UnaryFn<object, HostInfo>, {}, timeoutMs);
  }

  /** `resume`: the job was stopped with its container kept, and starts again in it. */
  submitJob(spec: JobSpec, timeoutMs = 60_000, resume = false): Promise<Job> {
    return this.unary(this.client.submitJob as UnaryFn<{ spec: JobSpec; resume?: boolean }, Job>, { spec, resume }, timeoutMs);
  }

  getJob(jobId: string, timeoutMs = 15_000): Promise<Job> {
    return this.unary(this.client.getJob as UnaryFn<{ jobId: string }, Job>, { jobId }, timeoutMs);
  }

  async listJobs(timeoutMs = 15_000): Promise<Job[]> {
    const res = await this.unary(this.client.listJobs as UnaryFn<object, { jobs: Job[] }>, {}, timeoutMs);
    return res.jobs;
  }

  stopJob(req: StopJobRequest, timeoutMs = 60_000): Promise<Job> {
    return this.unary(this.client.stopJob as UnaryFn<StopJobRequest, Job>, req, timeoutMs);
  }

  async removeJob(jobId: string, timeoutMs = 120_000): Promise<void> {
    await this.unary(this.client.removeJob as UnaryFn<{ jobId: string }, object>, { jobId }, timeoutMs);
  }

  updateJob(req: UpdateJobRequest, timeoutMs = 15_000): Promise<Job> {
    return this.unary(this.client.updateJob as UnaryFn<UpdateJobRequest, Job>, req, timeoutMs);
  }

  setJobSecrets(req: SetJobSecretsRequest, timeoutMs = 15_000): Promise<Job> {
    return this.unary(this.client.setJobSecrets as UnaryFn<SetJobSecretsRequest, Job>, req, timeoutMs);
  }

  putManifest(req: PutManifestRequest, timeoutMs = 120_000): Promise<PutManifestResponse> {
    return this.unary(this.client.putManifest as UnaryFn<PutManifestRequest, PutManifestResponse>, req, timeoutMs);
  }

  /** A client stream of blob chunks; `done` settles with the agent's answer. */
  putBlobs(timeoutMs = 60 * 60_000): { stream: ClientWritableStream<BlobChunk>; done: Promise<PutBlobsResponse> } {
    let stream!: ClientWritableStream<BlobChunk>;
    const done = new Promise<PutBlobsResponse>((resolve, reject) => {
      stream = this.client.putBlobs(new Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(err) : resolve(res)));
    });
    return { stream, done };
  }

  commitCode(req: CommitCodeRequest, timeoutMs = 10 * 60_000): Promise<CommitCodeResponse> {
    return this.unary(this.client.commitCode as UnaryFn<CommitCodeRequest, CommitCodeResponse>, req, timeoutMs);
  }

  events(req: EventsRequest): ClientReadableStream<Event> {
    return this.client.events(req);
  }

  getLogs(req: GetLogsRequest, timeoutMs = 30_000): Promise<GetLogsResponse> {
    return this.unary(this.client.getLogs as UnaryFn<GetLogsRequest, GetLogsResponse>, req, timeoutMs);
  }

  getMetrics(req: GetMetricsRequest, timeoutMs = 15_000): Promise<GetMetricsResponse> {
    return this.unary(this.client.getMetrics as UnaryFn<GetMetricsRequest, GetMetricsResponse>, req, timeoutMs);
  }

  /** Files of the job's code dir changed on the instance since the agent last wrote them. */
  listCodeChanges(jobId: string, timeoutMs = 120_000): Promise<ListCodeChangesResponse> {
    return this.unary(this.client.listCodeChanges as UnaryFn<{ jobId: string }, ListCodeChangesResponse>, { jobId }, timeoutMs);
  }

  /** The bytes of files of the job's code dir, chunk by chunk (a deadline for the whole stream). */
  readCodeFiles(jobId: string, paths: string[], timeoutMs = 30 * 60_000): ClientReadableStream<CodeFileChunk> {
    return this.client.readCodeFiles({ jobId, paths }, new Metadata(), { deadline: Date.now() + timeoutMs });
  }

  async shutdown(removeData = false, timeoutMs = 30_000): Promise<void> {
    await this.unary(this.client.shutdown as UnaryFn<{ removeData: boolean }, object>, { removeData }, timeoutMs);
  }

  close(): void {
    this.client.close();
  }
}
