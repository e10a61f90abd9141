// Every file of one user's dstack lives under DSTACK_HOME (default ~/.dstack), so two homes (two
// users, parallel tests) never share anything. The CLI and the daemon both read this one layout:
// the CLI finds the daemon's socket and log here, the daemon keeps everything else.
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export interface HomeLayout {
  home: string;
  /** The daemon's gRPC socket (0600). */
  socket: string;
  /** Holds the running daemon's pid: one daemon per home. */
  pidFile: string;
  log: string;
  db: string;
  config: string;
  secretKey: string;
  sshDir: string;
  /** The user's key for runs (and its `.pub`). */
  sshKey: string;
  /** One `Host <run>` block per running run; ~/.ssh/config includes it. */
  sshConfig: string;
  /** Host keys of runs, pinned under each run's HostKeyAlias. */
  knownHosts: string;
  /** Host keys of fleet and jump hosts the user accepted. */
  fleetKnownHosts: string;
  /** Local sockets that bridge to agents (grpc-js dials these). */
  runDir: string;
  /** Per-run files: the kept copy of each run's log. */
  runsDir: string;
  /** The local backend's files: the agent's data dir is `local/agent`. */
  localBackendDir: string;
  /** This home's random id: the mark (`dstack-<id>-`) on every cloud instance its daemon creates. */
  daemonId: string;
}

/** $DSTACK_HOME, absolute; ~/.dstack when it is unset or empty. */
export function dstackHome(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.DSTACK_HOME || join(homedir(), '.dstack'));
}

export function homeLayout(home: string): HomeLayout {
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
    fleetKnownHosts: join(sshDir, 'fleet_known_hosts'),
    runDir: join(home, 'run'),
    runsDir: join(home, 'runs'),
    localBackendDir: join(home, 'local'),
    daemonId: join(home, 'daemon-id'),
  };
}
