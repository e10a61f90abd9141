// One daemon per DSTACK_HOME: $DSTACK_HOME/daemon.pid is created exclusively and holds the pid. A
// file left by a daemon that died (kill -9) is taken over; one of a live daemon refuses the start.
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';

export class AlreadyRunningError extends Error {
  override name = 'AlreadyRunningError';
  constructor(
    readonly pid: number,
    home: string,
  ) {
    super(`a dstack daemon is already running for ${home} (pid ${pid}): stop it with \`dstack daemon stop\` first`);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A pid reused by something else after a reboot is not our daemon.
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return /daemon|node/.test(cmd);
  } catch {
    return true;
  }
}

export function acquirePidFile(file: string, home: string): () => void {
  for (let i = 0; i < 3; i++) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => {
        try {
          if (Number(readFileSync(file, 'utf8').trim()) === process.pid) rmSync(file, { force: true });
        } catch {
          /* gone */
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let pid = 0;
    try {
      pid = Number(readFileSync(file, 'utf8').trim());
    } catch {
      continue; // removed meanwhile
    }
    if (pid && pid !== process.pid && alive(pid)) throw new AlreadyRunningError(pid, home);
    rmSync(file, { force: true }); // stale
  }
  throw new Error(`could not take ${file}: another daemon is starting at the same time`);
}
