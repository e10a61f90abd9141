// Every file the daemon keeps lives under DSTACK_HOME (default ~/.dstack), so two homes (two users,
// parallel tests) never share anything: socket, state, agent, keys, logs.
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export interface Paths {
  home: string;
  socket: string;
  /** Holds the running daemon's pid: one daemon per home. */
  pidFile: string;
  log: string;
  db: string;
  config: string;
  secretKey: string;
  sshDir: string;
  sshKey: string;
  sshConfig: string;
  knownHosts: string;
  /** Local sockets that bridge to agents (grpc-js dials these). */
  runDir: string;
  /** Per-run files: the kept copy of each run's log. */
  runsDir: string;
  /** The local backend's files: the agent's data dir. */
  localDir: string;
}

export function resolveHome(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.DSTACK_HOME || join(homedir(), '.dstack'));
}

export function pathsFor(home: string): Paths {
  const sshDir = join(home, 'ssh');
  return {
    home,
    socket: join(home, 'daemon.sock'),
    pidFile: join(home, 'daemon.pid'),
    log: join(home, 'daemon.log'),
    db: join(home, 'state.db'),
    config: join(home, 'config.yml'),
    secretKey: join(home, 'secret.key'),
    sshDir,
    sshKey: join(sshDir, 'id_ed25519'),
    sshConfig: join(sshDir, 'config'),
    knownHosts: join(sshDir, 'known_hosts'),
    runDir: join(home, 'run'),
    runsDir: join(home, 'runs'),
    localDir: join(home, 'local'),
  };
}
