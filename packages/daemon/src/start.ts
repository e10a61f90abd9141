// The first part of a daemon's start, before the rest of the daemon is even loaded: the home, the
// pid file (one daemon per home), config.yml (a bad file refuses the start, as before), the log,
// and the socket (server/early.ts). main.ts then loads daemon.ts and assembles the daemon on it.
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { homeLayout, type HomeLayout } from '@dstack/core/home-layout';
import { VERSION } from '@dstack/core/version';
import { loadConfig, type DaemonConfig } from './config';
import { acquirePidFile } from './lock';
import { createLogger, type Logger } from './logger';
import { listenEarly, type EarlyServer } from './server/early';

export interface EarlyDaemon {
  paths: HomeLayout;
  config: DaemonConfig;
  log: Logger;
  startedMs: number;
  /** Removes the pid file (when it is still ours). */
  releasePid: () => void;
  socket: EarlyServer;
}

export async function startEarly(home: string): Promise<EarlyDaemon> {
  const paths = homeLayout(home);
  mkdirSync(paths.home, { recursive: true, mode: 0o700 });
  chmodSync(paths.home, 0o700);
  const releasePid = acquirePidFile(paths.pidFile, paths.home);
  let config: DaemonConfig;
  try {
    config = loadConfig(paths.config);
  } catch (err) {
    releasePid();
    throw err;
  }
  const log = createLogger(paths.log, { debug: config.debug, rotation: config.logRotation });
  const startedMs = Date.now();
  // Since the process started: the time to here is node and the modules loading.
  log.info(`daemon ${VERSION} starting`, { pid: process.pid, home: paths.home, loaded_ms: Math.round(performance.now()) });
  rmSync(paths.socket, { force: true }); // ours: the pid file says no other daemon owns it
  let socket: EarlyServer;
  try {
    socket = await listenEarly(paths.socket, () => ({
      version: VERSION,
      pid: process.pid,
      home: paths.home,
      startedMs,
      logFile: paths.log,
      activeRuns: 0,
      backends: [],
      notices: [],
    }));
  } catch (err) {
    log.error('daemon failed to start', { error: err as Error });
    releasePid();
    log.close();
    throw err;
  }
  log.info(`listening on ${paths.socket} (the daemon is being assembled)`, { since_start_ms: Math.round(performance.now()) });
  return { paths, config, log, startedMs, releasePid, socket };
}
