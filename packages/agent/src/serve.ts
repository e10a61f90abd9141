// `dstack-agent serve`: the long-running agent. Started detached by the daemon (on this machine or
// over SSH); survives its parent going away (SIGHUP ignored, writes to a closed stderr ignored).
// SIGTERM/SIGINT end the agent but not its jobs: a later agent on the same data dir resumes them.
// Only the Shutdown rpc stops jobs.
import { existsSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { mkdirSync } from 'node:fs';
import { CONTAINER_INSTANCE_ENV } from '@dstack/core/cloud-types';
import type { LogRotation } from '@dstack/core/log-file';
import { DataDir } from './datadir';
import { DockerEngine } from './docker/engine';
import { EventBus } from './events';
import { writeFileAtomic } from '@dstack/core/atomic-write';
import { bindUnix } from '@dstack/core/grpc';
import { createServer } from './grpc/server';
import { DEFAULT_LOG_CAP } from './logs/job-log';
import { JobManager } from './job/manager';
import { logger, setLogFile } from './logger';
import { setNativeDir } from './native/pty-loader';
import { AGENT_VERSION, executableSha256 } from './self';

export interface ServeOptions {
  dataDir: string;
  socket?: string;
  logFile?: string;
  logCap?: number;
  /** Rotation of the log file (default 10 MiB, 3 kept). */
  logRotation?: LogRotation;
}

function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function serve(opts: ServeOptions): Promise<void> {
  setLogFile(opts.logFile, opts.logRotation);
  process.on('SIGHUP', () => {});
  process.stdout.on('error', () => {});
  process.stderr.on('error', () => {});
  process.on('unhandledRejection', (err) =>
    logger.error(`unhandled rejection: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`),
  );
  process.on('uncaughtException', (err) => logger.error(`uncaught exception: ${err.stack ?? err.message}`));

  const dataDir = new DataDir(opts.dataDir);
  const instanceId = dataDir.init();
  setNativeDir(dataDir.nativeDir);
  const socketPath = opts.socket ?? dataDir.defaultSocket;

  if (existsSync(dataDir.pidFile)) {
    const pid = Number(readFileSync(dataDir.pidFile, 'utf8').trim());
    if (pid && pid !== process.pid && pidAlive(pid) && (await socketAnswers(socketPath))) {
      throw new Error(`another agent (pid ${pid}) already serves ${dataDir.root} on ${socketPath}`);
    }
  }
  if (existsSync(socketPath)) {
    if (await socketAnswers(socketPath)) throw new Error(`something already answers on ${socketPath}`);
    unlinkSync(socketPath); // left by an agent that was killed
  }
  mkdirSync(dirname(socketPath), { recursive: true, mode: 0o700 });

  const startedMs = Date.now();
  const engine = new DockerEngine();
  const bus = new EventBus();
  const manager = new JobManager(dataDir, instanceId, engine, bus, opts.logCap ?? DEFAULT_LOG_CAP);
  void executableSha256().catch(() => {});

  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  let exiting = false;
  const exit = async (removeData: boolean) => {
    if (exiting) return;
    exiting = true;
    manager.detachAll();
    await grpc.close();
    rmSync(socketPath, { force: true });
    rmSync(dataDir.pidFile, { force: true });
    if (removeData) rmSync(dataDir.root, { recursive: true, force: true });
    logger.info('agent exiting');
    resolveDone();
    // Open handles (a job's log timer, an SSH socket) must not keep the process alive.
    setTimeout(() => process.exit(0), 200).unref();
  };

  const grpc = createServer({ manager, bus, engine, dataDir: dataDir.root, instanceId, startedMs, onShutdown: (rm) => void exit(rm) });
  // The socket is born 0600: no window in which another user could connect.
  const umask = process.umask(0o077);
  try {
    await bindUnix(grpc.server, socketPath);
  } finally {
    process.umask(umask);
  }
  writeFileAtomic(dataDir.pidFile, `${process.pid}\n`);
  manager.recover();
  if (process.env[CONTAINER_INSTANCE_ENV] === '1') {
    manager.containerInstance = true;
    manager.onLimitStop = (jobId) => {
      // The container's PID 1 is the bootstrap, which ends the container on SIGTERM (and on RunPod
      // stops the pod with the pod's own key): nothing bills GPU time until the daemon terminates it.
      logger.info(`job ${jobId} ended at its limit: ending this instance's container so it stops billing`);
      try {
        process.kill(1, 'SIGTERM');
      } catch (err) {
        logger.warn(`could not signal the container's PID 1: ${(err as Error).message}`);
      }
      void exit(false);
    };
  }
  manager.startLimits();
  manager.metrics.start();
  logger.info(`dstack-agent ${AGENT_VERSION} serving ${dataDir.root} on ${socketPath} (pid ${process.pid}, instance ${instanceId})`);

  process.on('SIGTERM', () => void exit(false));
  process.on('SIGINT', () => void exit(false));
  await done;
}
