// The agent's own log (not a job's): one line per event with an ISO time, to --log-file or stderr.
// Writes never throw: a daemon that started the agent and went away must not take it down (EPIPE).
import { appendFileSync } from 'node:fs';

export type Level = 'info' | 'warn' | 'error';

let logFile: string | undefined;

export function setLogFile(path: string | undefined): void {
  logFile = path;
}

export function log(level: Level, message: string): void {
  const line = `${new Date().toISOString()} ${level} ${message}\n`;
  try {
    if (logFile) appendFileSync(logFile, line, { mode: 0o600 });
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
