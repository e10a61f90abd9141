// Where everything of ours lives: $DSTACK_HOME (default ~/.dstack), with the daemon's socket and log.
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export function dstackHome(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.DSTACK_HOME || join(homedir(), '.dstack'));
}

export const socketPath = (home: string) => join(home, 'daemon.sock');
export const daemonLogPath = (home: string) => join(home, 'daemon.log');
/** The SSH config the daemon keeps: one `Host <run>` block per running run. */
export const sshConfigPath = (home: string) => join(home, 'ssh', 'config');
