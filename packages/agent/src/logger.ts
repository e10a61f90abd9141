// The agent's own log (not a job's): one line per event with an ISO time, to --log-file (rotated by
// size: --log-file-max, --log-file-keep) or stderr.
// Writes never throw: a daemon that started the agent and went away must not take it down (EPIPE).
import { DEFAULT_LOG_ROTATION, RotatingLogFile, type LogRotation } from '@dstack/core/log-file';

export type Level = 'info' | 'warn' | 'error';

let logFile: RotatingLogFile | undefined;

export function setLogFile(path: string | undefined, rotation: LogRotation = DEFAULT_LOG_ROTATION): void {
  logFile?.close();
  logFile = path ? new RotatingLogFile(path, rotation) : undefined;
}

export function log(level: Level, message: string): void {
  const line = `${new Date().toISOString()} ${level} ${message}\n`;
  try {
    if (logFile) logFile.write(line);
    else process.stderr.write(line);
  } catch {
    /* nowhere to report it */
  }
}

export const logger = {
  info: (m: string) => log('info', m),
  warn: (m: string) => log('warn', m),
  error: (m: string) => log('error', m),
};
