// The daemon's own log ($DSTACK_HOME/daemon.log): one line per event, appended synchronously so a
// kill -9 loses nothing, rotated by size (log_size_limit, log_keep in config.yml). Secret values
// registered with redact() are replaced by *** in every line, a second guard behind never passing
// them to the logger at all.
import { DEFAULT_LOG_ROTATION, RotatingLogFile, type LogRotation } from '@dstack/core/log-file';

export type Level = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** Never print this value. */
  redact(secret: string): void;
  close(): void;
}

export function createLogger(
  file: string | null,
  { debug = false, rotation = DEFAULT_LOG_ROTATION }: { debug?: boolean; rotation?: LogRotation } = {},
): Logger {
  const out = file ? new RotatingLogFile(file, rotation) : null;
  const secrets = new Set<string>();
  const write = (level: Level, msg: string, fields?: Record<string, unknown>) => {
    if (level === 'debug' && !debug) return;
    let line = `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${msg}`;
    if (fields) {
      const f = formatFields(fields);
      if (f) line += ` ${f}`;
    }
    for (const s of secrets) if (s) line = line.split(s).join('***');
    line += '\n';
    if (out) {
      try {
        out.write(line);
      } catch {
        /* a full disk must not take the daemon down */
      }
    }
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    redact: (s) => {
      if (s && s.length >= 3) secrets.add(s);
    },
    close: () => out?.close(),
  };
}

function formatFields(fields: Record<string, unknown>): string {
  return Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => {
      const s = v instanceof Error ? v.message : typeof v === 'string' ? v : JSON.stringify(v);
      return `${k}=${/[\s"]/.test(s ?? '') ? JSON.stringify(s) : s}`;
    })
    .join(' ');
}
