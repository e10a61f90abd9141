// The agent's command line. Kept stable: the daemon starts `serve` exactly like this, detached, on
// this machine and over SSH on fleet hosts, and compares `--version --json` with what it ships.
//
//   dstack-agent --version [--json]
//   dstack-agent --help
//   dstack-agent serve --data-dir DIR [--socket PATH] [--log-file PATH] [--log-cap BYTES]
//                      [--log-file-max BYTES] [--log-file-keep N]
//   dstack-agent hostinfo [--data-dir DIR]
//   dstack-agent call (--socket PATH | --data-dir DIR) METHOD [JSON]
//   dstack-agent sftp-server --uid N --gid N --groups N,N --home DIR   (the agent starts it, fd 3 open)
//   dstack-agent tcp-listen --uid N --gid N --host ADDR --port N       (the agent starts it, IPC channel)

import { DEFAULT_LOG_ROTATION, type LogRotation } from '@dstack/core/log-file';

export const USAGE = `dstack-agent: runs dstack dev environments on this host (containers through Docker, or on the host),
their SSH servers, and reports to the dstack daemon over gRPC on a unix socket.

Usage:
  dstack-agent serve --data-dir DIR [--socket PATH] [--log-file PATH] [--log-cap BYTES]
                     [--log-file-max BYTES] [--log-file-keep N]
  dstack-agent --version [--json]
  dstack-agent --help
  dstack-agent hostinfo [--data-dir DIR]            what GetHostInfo reports, as JSON (disk: DIR's, default /)
  dstack-agent call (--socket PATH | --data-dir DIR) METHOD [JSON]
                                                    one rpc to a running agent (e.g. GetJob '{"jobId":"x"}');
                                                    Events prints one JSON line per event until stopped
  dstack-agent sftp-server --uid N --gid N [--groups N,...] [--home DIR]
                                                    internal: the agent's own SFTP server for one session,
                                                    on stdin/stdout, as that user; the agent starts it with
                                                    the target's root folder open as descriptor 3
  dstack-agent tcp-listen --uid N --gid N --host ADDR --port N
                                                    internal: opens an ssh -R listener as that user and
                                                    hands it to the agent over its IPC channel

serve options:
  --data-dir DIR     where the agent keeps its state, job logs, code and blob cache (created, mode 0700)
  --socket PATH      the gRPC unix socket (mode 0600); default DIR/agent.sock
  --log-file PATH    the agent's own log; default stderr
  --log-cap BYTES    size kept per job log before the oldest lines are dropped; default 16777216
  --log-file-max BYTES  the log file is rotated (FILE.1, FILE.2, ...) before it grows past this; default 10485760
  --log-file-keep N  rotated log files kept; default 3

Environment:
  DOCKER_HOST                  the Docker engine (unix:///path or tcp://host:port); default /var/run/docker.sock
  DSTACK_VSCODE_SERVER_URL     VS Code server download URL template ({commit}, {arch}); https only
  DSTACK_VSCODE_SERVER_SHA256_URL  where its sha256 is published (update API JSON, sha256hash)
  DSTACK_CURSOR_SERVER_URL     Cursor server download URL template ({commit}, {arch})
  DSTACK_WINDSURF_SERVER_URL   Windsurf server download URL template ({commit}, {version}, {arch})
  DSTACK_VSCODE_EXTENSION_URL  where the Python and Jupyter extensions' VSIX files are downloaded from
                               ({publisher}, {name}; https only) instead of the server's own gallery;
                               DSTACK_CURSOR_EXTENSION_URL, DSTACK_WINDSURF_EXTENSION_URL likewise
  NODE_EXTRA_CA_CERTS          more CA certificates for those downloads (a mirror's own CA)

Exit codes: 0 ok, 1 runtime error, 2 bad usage.`;

export type Command =
  | { kind: 'help' }
  | { kind: 'version'; json: boolean }
  | { kind: 'serve'; dataDir: string; socket?: string; logFile?: string; logCap?: number; logRotation?: LogRotation }
  | { kind: 'hostinfo'; dataDir: string }
  | { kind: 'call'; socket: string; method: string; body: string }
  | { kind: 'sftp-server'; uid: number; gid: number; groups: number[]; home: string }
  | { kind: 'tcp-listen'; uid: number; gid: number; groups: number[]; host: string; port: number };

export class UsageError extends Error {}

export function parseArgs(argv: string[]): Command {
  if (argv.length === 0 || argv.includes('--help') || argv.includes('-h') || argv[0] === 'help') return { kind: 'help' };
  if (argv[0] === '--version' || argv[0] === '-v' || argv[0] === 'version') {
    const rest = argv.slice(1);
    const bad = rest.find((a) => a !== '--json');
    if (bad) throw new UsageError(`unknown option ${bad} for --version (only --json)`);
    return { kind: 'version', json: rest.includes('--json') };
  }
  const command = argv[0];
  if (!['serve', 'hostinfo', 'call', 'sftp-server', 'tcp-listen'].includes(command))
    throw new UsageError(`unknown command ${command}: use serve, hostinfo, call, --version or --help`);
  const opts: Record<string, string> = {};
  const positional: string[] = [];
  const known: Record<string, string[]> = {
    serve: ['--data-dir', '--socket', '--log-file', '--log-cap', '--log-file-max', '--log-file-keep'],
    hostinfo: ['--data-dir'],
    call: ['--data-dir', '--socket'],
    'sftp-server': ['--uid', '--gid', '--groups', '--home'],
    'tcp-listen': ['--uid', '--gid', '--host', '--port'],
  };
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const [name, inline] = eq > 0 ? [arg.slice(0, eq), arg.slice(eq + 1)] : [arg, undefined];
    if (!known[command].includes(name)) throw new UsageError(`unknown option ${name} for ${command}`);
    const value = inline ?? argv[++i];
    if (value === undefined || value === '') throw new UsageError(`option ${name} needs a value`);
    opts[name] = value;
  }
  if (command === 'hostinfo') {
    if (positional.length) throw new UsageError(`hostinfo takes no argument (got ${positional[0]})`);
    return { kind: 'hostinfo', dataDir: opts['--data-dir'] ?? '/' };
  }
  if (command === 'sftp-server') {
    const id = (name: string) => {
      const v = opts[name];
      if (v === undefined || !/^\d+$/.test(v)) throw new UsageError(`sftp-server needs ${name} N (a number)`);
      return Number(v);
    };
    const groups = (opts['--groups'] ?? '').split(',').filter(Boolean);
    if (groups.some((g) => !/^\d+$/.test(g))) throw new UsageError(`--groups ${opts['--groups']}: numbers separated by commas`);
    return { kind: 'sftp-server', uid: id('--uid'), gid: id('--gid'), groups: groups.map(Number), home: opts['--home'] ?? '/' };
  }
  if (command === 'tcp-listen') {
    const num = (name: string) => {
      const v = opts[name];
      if (v === undefined || !/^\d+$/.test(v)) throw new UsageError(`tcp-listen needs ${name} N (a number)`);
      return Number(v);
    };
    if (!opts['--host']) throw new UsageError('tcp-listen needs --host ADDR');
    const gid = num('--gid');
    return { kind: 'tcp-listen', uid: num('--uid'), gid, groups: [gid], host: opts['--host'], port: num('--port') };
  }
  if (command === 'call') {
    const socket = opts['--socket'] ?? (opts['--data-dir'] ? `${opts['--data-dir'].replace(/\/+$/, '')}/agent.sock` : undefined);
    if (!socket) throw new UsageError('call needs --socket PATH or --data-dir DIR');
    if (positional.length < 1 || positional.length > 2) throw new UsageError('call needs METHOD and at most one JSON request');
    return { kind: 'call', socket, method: positional[0], body: positional[1] ?? '{}' };
  }
  if (positional.length) throw new UsageError(`serve takes no argument (got ${positional[0]})`);
  if (!opts['--data-dir']) throw new UsageError('serve needs --data-dir DIR');
  const wholeNumber = (name: string, min: number, what: string): number | undefined => {
    if (opts[name] === undefined) return undefined;
    const n = Number(opts[name]);
    if (!Number.isInteger(n) || n < min) throw new UsageError(`${name} ${opts[name]}: ${what}`);
    return n;
  };
  const bytes = 'a whole number of bytes, at least 16384';
  const logCap = wholeNumber('--log-cap', 16384, bytes);
  const maxBytes = wholeNumber('--log-file-max', 16384, bytes);
  const keep = wholeNumber('--log-file-keep', 0, 'a whole number of files, 0 or more');
  const logRotation =
    maxBytes === undefined && keep === undefined
      ? undefined
      : { maxBytes: maxBytes ?? DEFAULT_LOG_ROTATION.maxBytes, keep: keep ?? DEFAULT_LOG_ROTATION.keep };
  return { kind: 'serve', dataDir: opts['--data-dir'], socket: opts['--socket'], logFile: opts['--log-file'], logCap, logRotation };
}
