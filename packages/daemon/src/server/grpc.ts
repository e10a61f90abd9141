// The daemon's gRPC service on $DSTACK_HOME/daemon.sock: each rpc handed to the run service, each
// error mapped to a status code with a one-line message.
import { status as Status, type ServerWritableStream } from '@grpc/grpc-js';
import type { DaemonServer, StatusResponse } from '@dstack/core/gen/daemon';
import { BadRequestError, NotImplementedError, serverStream, unary as unaryOf, type ErrorReport } from '@dstack/core/grpc';
import type { Logger } from '../logger';
import type { RunService, Sink } from '../runs/service';
import type { FleetService } from '../fleets/service';
import type { SyncService } from '../sync/service';
import type { BackendService } from '../backends/service';
import type { SecretService } from '../secrets-service';
import type { VolumeService } from '../volumes/service';

export interface ServerDeps {
  runs: RunService;
  fleets: FleetService;
  sync: Pick<SyncService, 'start' | 'stop' | 'get' | 'pull'>;
  backends: Pick<BackendService, 'list' | 'add' | 'remove'>;
  secrets: Pick<SecretService, 'set' | 'get' | 'list' | 'delete'>;
  volumes: Pick<VolumeService, 'apply' | 'list' | 'delete'>;
  log: Logger;
  status: () => StatusResponse;
  shutdown: () => void;
}

/** Bugs (INTERNAL) go to the log with their stack; refusals as one line. */
function reportAs(log: Logger, name: string): ErrorReport {
  return (err, code, message) => {
    if (code === Status.INTERNAL) log.error(`${name} failed`, { error: err instanceof Error ? (err.stack ?? message) : message });
    else log.info(`${name} refused: ${message}`);
  };
}

function unary<Req, Res>(log: Logger, name: string, fn: (req: Req) => Res | Promise<Res>) {
  return unaryOf(fn, reportAs(log, name));
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
  return serverStream<Req, T>((req, call) => fn(req, sinkOf(call)), reportAs(log, name));
}

const _notYet = (what: string, issue: string) => () => {
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
    stopRun: unary(log, 'StopRun', (req) => runs.stop(req.name, req.abort, Boolean(req.keep))),
    deleteRun: unary(log, 'DeleteRun', async (req) => {
      await runs.delete(req.name);
      return {};
    }),
    startRun: unary(log, 'StartRun', (req) => runs.start(req.name)),
    attach: streaming(log, 'Attach', (req, sink) => runs.attach(req, sink)),
    getLogs: streaming(log, 'GetLogs', (req, sink) => runs.getLogs(req, sink)),
    getMetrics: unary(log, 'GetMetrics', (req) => runs.metrics(req)),
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
    pullSync: unary(log, 'PullSync', (req) => d.sync.pull(req.name)),
    listBackends: unary(log, 'ListBackends', (req) => d.backends.list(req)),
    // The request carries a key: never logged, refusals included (their messages name no key).
    addBackend: unary(log, 'AddBackend', (req) => d.backends.add(req)),
    removeBackend: unary(log, 'RemoveBackend', (req) => d.backends.remove(req)),
    // Requests and answers carry values: never logged (refusals name the secret only).
    setSecret: unary(log, 'SetSecret', (req) => d.secrets.set(req)),
    getSecret: unary(log, 'GetSecret', (req) => d.secrets.get(req.name)),
    listSecrets: unary(log, 'ListSecrets', () => d.secrets.list()),
    deleteSecret: unary(log, 'DeleteSecret', (req) => {
      d.secrets.delete(req.name);
      return {};
    }),
    applyVolume: unary(log, 'ApplyVolume', (req) => d.volumes.apply(req.configuration)),
    listVolumes: unary(log, 'ListVolumes', () => ({ volumes: d.volumes.list() })),
    deleteVolume: unary(log, 'DeleteVolume', async (req) => {
      await d.volumes.delete(req.name);
      return {};
    }),
  };
}
