// The Agent gRPC service over the manager: each rpc of proto/agent.proto, with errors mapped to
// status codes and a one-line message.
import { status, type Server, type ServerWritableStream, type sendUnaryData, type ServerReadableStream } from '@grpc/grpc-js';
import {
  AgentService,
  type AgentServer,
  type BlobChunk,
  type CodeFileChunk,
  type Event,
  type EventsRequest,
  type HandshakeResponse,
  type PutBlobsResponse,
  type ReadCodeFilesRequest,
} from '@dstack/core/gen/agent';
import { newServer, serviceError, unary as unaryOf, type ErrorReport } from '@dstack/core/grpc';
import { AGENT_PROTOCOL_VERSION } from '@dstack/core/version';
import type { DockerEngine } from '../docker/engine';
import type { EventBus } from '../events';
import { collectHostInfo } from '../hostinfo/index';
import type { JobManager } from '../job/manager';
import { logger } from '../logger';
import { AGENT_VERSION, executableSha256 } from '../self';

export interface AgentDeps {
  manager: JobManager;
  bus: EventBus;
  engine: DockerEngine;
  dataDir: string;
  instanceId: string;
  startedMs: number;
  /** Shutdown rpc: called after the answer went out. */
  onShutdown(removeData: boolean): void;
}

/** Bugs (INTERNAL) go to the agent's log with their stack; refusals only to the caller. */
const report: ErrorReport = (err, code, message) => {
  if (code === status.INTERNAL) logger.error(`rpc failed: ${err instanceof Error ? (err.stack ?? message) : message}`);
};

function unary<Req, Res>(fn: (req: Req) => Promise<Res> | Res) {
  return unaryOf(fn, report);
}

export function agentService(d: AgentDeps, streams: Set<ServerWritableStream<EventsRequest, Event>>): AgentServer {
  const m = d.manager;
  return {
    handshake: unary(
      async (): Promise<HandshakeResponse> => ({
        agentVersion: AGENT_VERSION,
        agentSha256: await executableSha256(),
        protocolVersion: AGENT_PROTOCOL_VERSION,
        pid: process.pid,
        dataDir: d.dataDir,
        startedMs: d.startedMs,
        instanceId: d.instanceId,
      }),
    ),
    getHostInfo: unary(() => collectHostInfo(d.dataDir, d.engine)),
    submitJob: unary((req) => m.submit(req.spec, req.resume)),
    getJob: unary((req) => m.get(req.jobId).proto()),
    listJobs: unary(() => ({ jobs: m.list().map((j) => j.proto()) })),
    stopJob: unary((req) => m.stop(req.jobId, req.abort, req.graceSeconds, req.keep)),
    removeJob: unary(async (req) => {
      await m.remove(req.jobId);
      return {};
    }),
    updateJob: unary((req) => m.update(req.jobId, req.authorizedKeys, req.limits)),
    setJobSecrets: unary((req) => m.setSecrets(req)),
    putManifest: unary((req) => m.putManifest(req)),
    putBlobs: (call: ServerReadableStream<BlobChunk, PutBlobsResponse>, callback: sendUnaryData<PutBlobsResponse>) => {
      m.putBlobs(call as AsyncIterable<BlobChunk>).then(
        (res) => callback(null, res),
        (err) => {
          callback(serviceError(err, report));
          call.destroy();
        },
      );
    },
    commitCode: unary((req) => m.commitCode(req.uploadId)),
    events: (call: ServerWritableStream<EventsRequest, Event>) => {
      const jobId = call.request.jobId;
      // The snapshot is built and written synchronously, so no live event can slip in before it.
      const jobs = jobId ? m.list().filter((j) => j.id === jobId) : m.list();
      const now = Date.now();
      for (const j of jobs) {
        call.write({ timeMs: now, jobId: j.id, payload: { $case: 'status', value: { ...j.status } } });
        call.write({ timeMs: now, jobId: j.id, payload: { $case: 'activity', value: j.activity() } });
      }
      const unsubscribe = d.bus.subscribe(jobId, (e) => {
        if (!call.cancelled && !call.destroyed) call.write(e);
      });
      streams.add(call);
      // A daemon watching every job enforces the limits; while none does, the agent does (job/limits.ts).
      const unwatch = jobId ? () => {} : m.watchers.watch();
      const end = () => {
        unsubscribe();
        unwatch();
        streams.delete(call);
      };
      call.on('cancelled', end);
      call.on('close', end);
      call.on('error', end);
    },
    getLogs: unary((req) => {
      const r = m.get(req.jobId).readLogs(req.fromOffset, req.sinceMs, req.limitBytes);
      return { lines: r.lines, nextOffset: r.nextOffset, firstOffset: r.firstOffset };
    }),
    getMetrics: unary((req) => m.getMetrics(req.jobId, req.sinceMs)),
    listCodeChanges: unary((req) => m.listCodeChanges(req.jobId)),
    readCodeFiles: (call: ServerWritableStream<ReadCodeFilesRequest, CodeFileChunk>) => {
      void (async () => {
        try {
          // Written with backpressure: a large file is never read ahead of what the socket takes.
          for await (const chunk of m.readCodeFiles(call.request.jobId, call.request.paths)) {
            if (call.cancelled) return;
            if (!call.write(chunk)) await new Promise((r) => call.once('drain', r));
          }
          call.end();
        } catch (err) {
          const e = serviceError(err, report);
          call.emit('error', Object.assign(new Error(e.message), { code: e.code, details: e.details }));
        }
      })();
    },
    shutdown: unary(async (req) => {
      logger.info(`shutdown requested${req.removeData ? ' (removing the data dir)' : ''}: stopping every job`);
      await m.stopAll(req.removeData);
      setImmediate(() => d.onShutdown(req.removeData));
      return {};
    }),
  };
}

export interface AgentGrpcServer {
  server: Server;
  /** Ends the Events streams, lets answers in flight go out, then closes (at most `ms` later). */
  close(ms?: number): Promise<void>;
}

export function createServer(deps: AgentDeps): AgentGrpcServer {
  const server = newServer();
  const streams = new Set<ServerWritableStream<EventsRequest, Event>>();
  server.addService(AgentService, agentService(deps, streams));
  return {
    server,
    close: (ms = 2000) =>
      new Promise<void>((resolve) => {
        for (const s of streams) s.end();
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, ms);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
