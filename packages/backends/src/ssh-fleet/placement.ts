// Where the agent lives on a fleet host: one folder in the SSH user's home, so that removing it (and
// the systemd unit, where there is one) removes everything we installed and nothing of the user's.
import { posix } from 'node:path';
import type { AgentPlacement } from '../backend';

export const DATA_DIR_NAME = '.dstack-agent';

/** The agent's data dir in `home`; everything it and we write on the host is inside it. */
export function dataDirIn(home: string): string {
  return posix.join(home, DATA_DIR_NAME);
}

export function fleetAgentPlacement(home: string, env: Record<string, string> = {}): AgentPlacement {
  const dataDir = dataDirIn(home);
  return {
    dataDir,
    binPath: posix.join(dataDir, 'bin', 'dstack-agent'),
    socketPath: posix.join(dataDir, 'agent.sock'),
    logFile: posix.join(dataDir, 'agent.log'),
    ...(Object.keys(env).length ? { env } : {}),
  };
}

/** Guards `rm -rf`: only a folder we named, under an absolute home that is not `/`. */
export function isDataDir(path: string): boolean {
  return posix.isAbsolute(path) && posix.basename(path) === DATA_DIR_NAME && posix.dirname(path) !== '/' && !path.includes('/../');
}
