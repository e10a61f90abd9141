// The daemon's gRPC service on $DSTACK_HOME/daemon.sock: each rpc handed to the run service, each
// error mapped to a status code with a one-line message.
import { Server, ServerCredentials, status as Status, type ServerUnaryCall, type ServerWritableStream, type sendUnaryData } from '@grpc/grpc-js';
import { DaemonService, type DaemonServer, type StatusResponse } from '@dstack/core/gen/daemon';
import { chmodSync } from 'node:fs';
import { MAX_MESSAGE_BYTES } from '../agent/rpc';
import { BadRequestError, ConflictError, NotFoundError, NotImplementedError, PreconditionError } from '../errors';
import type { Logger } from '../logger';
import type { RunService, Sink } from '../runs/service';
import type { FleetService } from '../fleets/service';
import type { SyncService } from '../sync/service';

export interface ServerDeps {
  runs: RunService;
  fleets: FleetService;
  sync: Pick<SyncService, 'start' | 'stop' | 'get'>;
  log: Logger;
  status: () => StatusResponse;
  shutdown: () => void;
}

function codeOf(err: unknown): Status {
  if (err instanceof BadRequestError) return Status.INVALID_ARGUMENT;
  if (err instanceof NotFoundError) return Status.NOT_FOUND;
  if (err instanceof ConflictError) return Status.ALREADY_EXISTS;
  if (err instanceof PreconditionError) return Status.FAILED_PRECONDITION;
  if (err instanceof NotImplementedError) return Status.UNIMPLEMENTED;
  return Status.INTERNAL;
}

function unary<Req, Res>(log: Logger, name: string, fn: (req: Req) => Res | Promise<Res>) {
  return (call: ServerUnaryCall<Req, Res>, cb: sendUnaryData<Res>) => {
    Promise.resolve()
      .then(() => fn(call.request))
      .then(
        (res) => cb(null, res),
        (err: unknown) => {
          const code = codeOf(err);
          const message = err instanceof Error ? err.message : String(err);
          if (code === Status.INTERNAL) log.error(`${name} failed`, { error: err instanceof Error ? (err.stack ?? message) : message });
          else log.info(`${name} refused: ${message}`);
          cb({ code, details: message, message, name: 'Error' });
        },
      );
  };
}

function sinkOf<T>(call: ServerWritableStream<unknown, T>): Sink<T> {
  return {
    write: (v) => {
      if (!call.cancelled && call.writable) call.write(v);
    },
    end: () => {
      if (!call.cancelled) call.end();
    },
    onClose: (cb) => {
      let done = false;
      const once = () => {
        if (!done) {
          done = true;
          cb();
        }
      };
      call.on('cancelled', once);
      call.on('close', once);
      call.on('finish', once);
    },
  };
}

function streaming<Req, T>(log: Logger, name: string, fn: (req: Req, sink: Sink<T>) => void) {
  return (call: ServerWritableStream<Req, T>) => {
    try {
      fn(call.request, sinkOf(call));
    } catch (err) {
      const code = codeOf(err);
      const message = err instanceof Error ? err.message : String(err);
      if (code === Status.INTERNAL) log.error(`${name} failed`, { error: message });
      call.destroy(Object.assign(new Error(message), { code, details: message }));
    }
  };
}

const notYet = (what: string, issue: string) => () => {
  throw new NotImplementedError(`${what} are not built yet (${issue}): this daemon runs dev environments only`);
};

export function handlers(d: ServerDeps): DaemonServer {
  const { runs, log } = d;
  return {
    status: unary(log, 'Status', () => d.status()),
    shutdown: unary(log, 'Shutdown', () => {
      setImmediate(d.shutdown);
      return {};
    }),
    getPlan: unary(log, 'GetPlan', (req) => runs.plan(req)),
    applyRun: unary(log, 'ApplyRun', async (req) => {
      if (req.sync && (req.noRepo || !req.repoDir)) throw new BadRequestError('sync needs the repo: apply without --no-repo');
      const run = await runs.apply(req);
      return req.sync ? { ...run, sync: d.sync.start(run.name) } : run;
    }),
    listRuns: unary(log, 'ListRuns', (req) => ({ runs: runs.list(req.all) })),
    getRun: unary(log, 'GetRun', (req) => runs.get(req.name)),
    stopRun: unary(log, 'StopRun', (req) => runs.stop(req.name, req.abort)),
    deleteRun: unary(log, 'DeleteRun', (req) => {
      runs.delete(req.name);
      return {};
    }),
    attach: streaming(log, 'Attach', (req, sink) => runs.attach(req, sink)),
    getLogs: streaming(log, 'GetLogs', (req, sink) => runs.getLogs(req, sink)),
    listOffers: unary(log, 'ListOffers', (req) => runs.offers(req)),
    getFleetPlan: unary(log, 'GetFleetPlan', (req) => d.fleets.plan(req)),
    scanHostKeys: unary(log, 'ScanHostKeys', (req) => d.fleets.scanHostKeys(req)),
    applyFleet: streaming(log, 'ApplyFleet', (req, sink) => d.fleets.apply(req, sink)),
    listFleets: unary(log, 'ListFleets', (req) => ({ fleets: d.fleets.list(req.all) })),
    getFleet: unary(log, 'GetFleet', (req) => d.fleets.get(req.name)),
    deleteFleet: streaming(log, 'DeleteFleet', (req, sink) => d.fleets.delete(req, sink)),
    startSync: unary(log, 'StartSync', (req) => d.sync.start(req.name)),
    stopSync: unary(log, 'StopSync', (req) => d.sync.stop(req.name)),
    getSync: unary(log, 'GetSync', (req) => d.sync.get(req.name)),
  };
}

export function listen(socketPath: string, impl: DaemonServer): Promise<Server> {
  const server = new Server({
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  });
  server.addService(DaemonService, impl);
  return new Promise((resolve, reject) => {
    server.bindAsync(`unix://${socketPath}`, ServerCredentials.createInsecure(), (err) => {
      if (err) return reject(err);
      chmodSync(socketPath, 0o600);
      resolve(server);
    });
  });
}
