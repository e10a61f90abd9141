// The CLI's side of the daemon: connect to $DSTACK_HOME/daemon.sock, start the daemon when nothing
// answers there, check that it runs this version, and turn calls into promises and async iterables
// whose errors are one line for the user. Calls go through grpc-h2.ts (gRPC framed over node:http2)
// with the generated codecs, which load lazily: only commands that talk to the daemon pay for them.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import type {
  AddBackendRequest,
  BackendInfo,
  ListBackendsResponse,
  ListSecretsResponse,
  GetSecretResponse,
  SetSecretResponse,
  ApplyVolumeRequest,
  ListVolumesResponse,
  Volume,
  ApplyRunRequest,
  AttachEvent,
  AttachRequest,
  DaemonService,
  GetFleetPlanRequest,
  GetLogsRequest,
  GetMetricsResponse,
  GetPlanRequest,
  ListOffersRequest,
  ListOffersResponse,
  ApplyFleetRequest,
  DeleteFleetRequest,
  Fleet,
  FleetEvent,
  FleetPlan,
  ListFleetsResponse,
  ListRunsResponse,
  LogEntry,
  Plan,
  PullSyncResponse,
  Run,
  ScanHostKeysRequest,
  ScanHostKeysResponse,
  StatusResponse,
  SyncStatus,
} from '@dstack/core/gen/daemon';
import { VERSION } from '@dstack/core/version';
import { DaemonError, UserError } from '../errors';
import { Channel, Code, type Method } from './grpc-h2';
import { dstackHome, homeLayout } from '@dstack/core/home-layout';
import { spinner } from '../ui/progress';

/** A server stream: iterate its messages; cancel() ends the iteration quietly. */
export interface EventStream<T> extends AsyncIterable<T> {
  cancel(): void;
}

export class Daemon {
  constructor(
    private readonly channel: Channel,
    private readonly api: DaemonService,
    readonly home: string,
  ) {}

  status(timeoutMs = 5_000) {
    return this.unary(this.api.status, {}, timeoutMs) as Promise<StatusResponse>;
  }
  shutdown() {
    return this.unary(this.api.shutdown, {}, 10_000);
  }
  getPlan(req: GetPlanRequest): Promise<Plan> {
    return this.unary(this.api.getPlan, req);
  }
  applyRun(req: ApplyRunRequest): Promise<Run> {
    return this.unary(this.api.applyRun, req);
  }
  listRuns(all: boolean): Promise<ListRunsResponse> {
    return this.unary(this.api.listRuns, { all });
  }
  getRun(name: string): Promise<Run> {
    return this.unary(this.api.getRun, { name });
  }
  /** `keep`: the run's container stays where its instance can keep it (`dstack stop`). */
  stopRun(name: string, abort: boolean, keep = false): Promise<Run> {
    return this.unary(this.api.stopRun, { name, abort, keep });
  }
  deleteRun(name: string) {
    return this.unary(this.api.deleteRun, { name });
  }
  startRun(name: string): Promise<Run> {
    return this.unary(this.api.startRun, { name });
  }
  listOffers(req: ListOffersRequest): Promise<ListOffersResponse> {
    return this.unary(this.api.listOffers, req);
  }
  attach(req: AttachRequest): EventStream<AttachEvent> {
    return this.stream(this.api.attach, req);
  }
  getLogs(req: GetLogsRequest): EventStream<LogEntry> {
    return this.stream(this.api.getLogs, req);
  }
  getMetrics(name: string, sinceMs = 0): Promise<GetMetricsResponse> {
    return this.unary(this.api.getMetrics, { name, sinceMs });
  }
  getFleetPlan(req: GetFleetPlanRequest): Promise<FleetPlan> {
    return this.unary(this.api.getFleetPlan, req);
  }
  scanHostKeys(req: ScanHostKeysRequest): Promise<ScanHostKeysResponse> {
    return this.unary(this.api.scanHostKeys, req);
  }
  applyFleet(req: ApplyFleetRequest): EventStream<FleetEvent> {
    return this.stream(this.api.applyFleet, req);
  }
  listFleets(all: boolean): Promise<ListFleetsResponse> {
    return this.unary(this.api.listFleets, { all });
  }
  getFleet(name: string): Promise<Fleet> {
    return this.unary(this.api.getFleet, { name });
  }
  deleteFleet(req: DeleteFleetRequest): EventStream<FleetEvent> {
    return this.stream(this.api.deleteFleet, req);
  }
  startSync(name: string): Promise<SyncStatus> {
    return this.unary(this.api.startSync, { name });
  }
  stopSync(name: string): Promise<SyncStatus> {
    return this.unary(this.api.stopSync, { name });
  }
  getSync(name: string): Promise<SyncStatus> {
    return this.unary(this.api.getSync, { name });
  }
  pullSync(name: string): Promise<PullSyncResponse> {
    return this.unary(this.api.pullSync, { name });
  }
  listBackends(check: boolean): Promise<ListBackendsResponse> {
    return this.unary(this.api.listBackends, { check }, 60_000);
  }
  addBackend(req: AddBackendRequest): Promise<BackendInfo> {
    return this.unary(this.api.addBackend, req, 60_000);
  }
  removeBackend(type: string) {
    return this.unary(this.api.removeBackend, { type });
  }
  setSecret(name: string, value: string): Promise<SetSecretResponse> {
    return this.unary(this.api.setSecret, { name, value });
  }
  getSecret(name: string): Promise<GetSecretResponse> {
    return this.unary(this.api.getSecret, { name });
  }
  listSecrets(): Promise<ListSecretsResponse> {
    return this.unary(this.api.listSecrets, {});
  }
  deleteSecret(name: string) {
    return this.unary(this.api.deleteSecret, { name });
  }
  applyVolume(req: ApplyVolumeRequest): Promise<Volume> {
    return this.unary(this.api.applyVolume, req, 120_000);
  }
  listVolumes(): Promise<ListVolumesResponse> {
    return this.unary(this.api.listVolumes, {});
  }
  deleteVolume(name: string) {
    return this.unary(this.api.deleteVolume, { name }, 120_000);
  }

  close(): void {
    this.channel.close();
  }

  private unary<Req, Res>(method: Method<Req, Res>, req: Req, timeoutMs?: number): Promise<Res> {
    return this.channel.unary(method, req, timeoutMs).catch((err) => {
      throw toUserError(err, this.home);
    });
  }

  private stream<Req, T>(method: Method<Req, T>, req: Req): EventStream<T> {
    const call = this.channel.serverStream(method, req);
    let cancelled = false;
    const home = this.home;
    return {
      cancel() {
        cancelled = true;
        call.cancel();
      },
      async *[Symbol.asyncIterator]() {
        try {
          for await (const msg of call) yield msg;
        } catch (err) {
          if (cancelled && (err as { code?: number }).code === Code.CANCELLED) return;
          throw toUserError(err, home);
        }
      },
    };
  }
}

/** A gRPC failure as one line: the daemon's own message, or what went wrong reaching it. */
export function toUserError(err: unknown, home = dstackHome()): Error {
  const e = err as { code?: unknown; details?: string; message?: string };
  if (typeof e?.code !== 'number') return err instanceof Error ? err : new Error(String(err));
  if (e.code === Code.UNAVAILABLE) {
    return new DaemonError(
      `lost the connection to the dstack daemon (${e.details || 'unavailable'}); its log: ${homeLayout(home).log}`,
      e.code,
    );
  }
  if (e.code === Code.DEADLINE_EXCEEDED) {
    return new DaemonError(`the dstack daemon did not answer in time; its log: ${homeLayout(home).log}`, e.code);
  }
  return new DaemonError(e.details || e.message || 'the dstack daemon failed', e.code);
}

/** True when something accepts connections on the unix socket. */
export function socketAnswers(path: string, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    if (!existsSync(path)) return resolve(false);
    const sock = netConnect(path);
    const done = (ok: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

async function openClient(home: string): Promise<Daemon> {
  const { DaemonService } = await import('@dstack/core/gen/daemon');
  return new Daemon(new Channel(homeLayout(home).socket), DaemonService, home);
}

export interface ConnectOptions {
  /** Start the daemon when nothing answers (default true). */
  autoStart?: boolean;
  /** Refuse a daemon of another version (default true). */
  checkVersion?: boolean;
  home?: string;
}

/** A connection to this user's daemon, started on demand and checked to run this CLI's version. */
export async function connect(opts: ConnectOptions = {}): Promise<Daemon> {
  const home = opts.home ?? dstackHome();
  let daemon: Daemon | undefined;
  let status: StatusResponse | undefined;
  if (await socketAnswers(homeLayout(home).socket)) {
    daemon = await openClient(home);
    status = await daemon.status().catch(() => undefined);
  }
  if (!status) {
    if (opts.autoStart === false) {
      daemon?.close();
      throw new UserError('the dstack daemon is not running: start it with `dstack daemon start`');
    }
    daemon?.close();
    await startDaemon(home);
    daemon = await openClient(home);
    status = await daemon.status(15_000);
  }
  // What the daemon did by itself since the last command (an orphan instance terminated): said once.
  for (const n of status.notices ?? []) process.stderr.write(`Note: ${n}\n`);
  if (opts.checkVersion !== false && status.version !== VERSION) {
    daemon!.close();
    throw new UserError(
      `the running dstack daemon is version ${status.version} and this CLI is ${VERSION}: restart it with \`dstack daemon stop\` (the next command starts this version; runs keep running)`,
    );
  }
  return daemon!;
}

/** dist/daemon.cjs, next to the CLI's own bundle (dist/cli.cjs). */
export function daemonScript(): string {
  const dir = typeof __dirname === 'string' ? __dirname : process.cwd();
  return join(dir, 'daemon.cjs');
}

/**
 * Starts the daemon detached (its own session, output to its log) and waits until its socket
 * answers. A spinner appears when that takes over a second. Another CLI starting one at the same
 * time is fine: whichever daemon holds the socket serves both.
 */
export async function startDaemon(home: string, { timeoutMs = 60_000 } = {}): Promise<void> {
  const script = daemonScript();
  if (!existsSync(script)) {
    throw new UserError(`cannot start the dstack daemon: ${script} is missing (run \`npm run build\`)`);
  }
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const log = homeLayout(home).log;
  const fd = openSync(log, 'a', 0o600);
  let exitInfo: string | undefined;
  let exitedAt = 0;
  try {
    const child = spawn(process.execPath, [script], {
      detached: true,
      stdio: ['ignore', fd, fd],
      cwd: home,
      env: { ...process.env, DSTACK_HOME: home },
    });
    child.once('error', (err) => {
      exitInfo = err.message;
      exitedAt = Date.now();
    });
    child.once('exit', (code, signal) => {
      exitInfo = signal ? `killed by ${signal}` : `exited with code ${code}`;
      exitedAt = Date.now();
    });
    child.unref();
  } finally {
    closeSync(fd);
  }
  const spin = spinner('Starting the dstack daemon...', { delayMs: 1_000 });
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      if (await socketAnswers(homeLayout(home).socket)) return;
      // A daemon that exits may have lost a race to another one: give that one a moment.
      if (exitInfo && Date.now() - exitedAt > 3_000) {
        throw new UserError(`the dstack daemon ${exitInfo} on start: ${lastLine(log)} (log: ${log})`);
      }
      if (Date.now() > deadline) {
        throw new UserError(`the dstack daemon did not start within ${Math.round(timeoutMs / 1000)} s (log: ${log})`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    spin.stop();
  }
}

function lastLine(file: string): string {
  try {
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    return lines[lines.length - 1]?.trim() || 'no output';
  } catch {
    return 'no output';
  }
}
