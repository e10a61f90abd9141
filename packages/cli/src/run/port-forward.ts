// Local port forwards of a run's `ports` (and attach's -p), through OpenSSH and the SSH config the
// daemon keeps ($DSTACK_HOME/ssh/config): `ssh -N -L 8080:localhost:8080 NAME`, a child stopped when
// we exit. attach's --host binds them to another local address, --ssh-identity adds a key.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { parsePorts } from '@dstack/core/config/grammar';
import { Issues } from '@dstack/core/resources/errors';

export interface PortMapping {
  local: number;
  remote: number;
}

/** A run's configured ports (local 0: any free port, taken as the container's). */
export function portMappings(ports: readonly { localPort: number; containerPort: number }[]): PortMapping[] {
  return ports.map((p) => ({ local: p.localPort || p.containerPort, remote: p.containerPort }));
}

/** `-p [LOCAL:]REMOTE` as the configuration's `ports` grammar reads it (`*:REMOTE`: the same port here). */
export function parsePortFlag(v: string): PortMapping {
  const issues = new Issues();
  const [p] = parsePorts([v], issues) ?? [];
  if (!p) throw new Error(issues.list.map((i) => i.message).join('; ') || 'expected [LOCAL:]REMOTE, e.g. 8080 or 9000:80');
  return { local: p.local_port ?? p.container_port, remote: p.container_port };
}

/**
 * The run's ports with attach's -p on top, as dstack merges them: a -p for a remote port the run
 * already forwards replaces its local port, any other is added. Throws when two forwards would
 * share a local port.
 */
export function mergePorts(configured: readonly PortMapping[], extra: readonly PortMapping[]): PortMapping[] {
  const byRemote = new Map<number, PortMapping>();
  for (const p of [...configured, ...extra]) byRemote.set(p.remote, p);
  const merged = [...byRemote.values()];
  const seen = new Map<number, number>();
  for (const p of merged) {
    const other = seen.get(p.local);
    if (other !== undefined)
      throw new Error(`local port ${p.local} would forward both ${other} and ${p.remote}: give one of them another local port`);
    seen.set(p.local, p.remote);
  }
  return merged;
}

/** `--host`: a host name or an address (IPv6 with or without brackets); `*` binds every address. */
export function parseBindHost(v: string): string {
  const host = v.startsWith('[') && v.endsWith(']') ? v.slice(1, -1) : v;
  if (!/^(\*|[A-Za-z0-9._:%-]+)$/.test(host)) throw new Error('expected a host name or an address to bind, e.g. 127.0.0.1 or 0.0.0.0');
  return host;
}

/** A host as it goes before `:PORT` (an IPv6 address in brackets). */
const bracketed = (host: string) => (host.includes(':') ? `[${host}]` : host);

/** How a local end reads: `localhost:8080`, `[::1]:8080`. */
export function localEnd(port: number, host = 'localhost'): string {
  return `${bracketed(host)}:${port}`;
}

export interface ForwardOptions {
  /** The local address the forwards listen on; default loopback (ssh's default). */
  bindHost?: string;
  /** A private key tried before the Host block's own. */
  identityFile?: string;
}

export function sshForwardArgs(alias: string, ports: PortMapping[], configFile?: string, opts: ForwardOptions = {}): string[] {
  const args: string[] = [];
  if (configFile) args.push('-F', configFile);
  args.push('-N', '-o', 'ExitOnForwardFailure=yes', '-o', 'BatchMode=yes', '-o', 'ServerAliveInterval=15');
  if (opts.identityFile) args.push('-i', opts.identityFile);
  const bind = opts.bindHost ? `${bracketed(opts.bindHost)}:` : '';
  for (const p of ports) args.push('-L', `${bind}${p.local}:localhost:${p.remote}`);
  args.push(alias);
  return args;
}

export interface Forwarder {
  stop(): void;
  readonly exited: Promise<string | undefined>;
}

/** Starts the forwards; the child is killed when stop() is called or this process exits. */
export function startForwards(alias: string, ports: PortMapping[], configFile: string, opts: ForwardOptions = {}): Forwarder | undefined {
  if (!ports.length) return undefined;
  // Its own process group: Ctrl+C on the terminal is ours to handle (it asks a question first).
  const child: ChildProcess = spawn('ssh', sshForwardArgs(alias, ports, existsSync(configFile) ? configFile : undefined, opts), {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  let stopping = false;
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const kill = () => {
    stopping = true;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  };
  process.once('exit', kill);
  const exited = new Promise<string | undefined>((resolve) => {
    child.once('error', (err) => resolve(err.message));
    child.once('exit', (code, signal) => {
      process.off('exit', kill);
      resolve(stopping ? undefined : stderr.trim().split('\n').pop() || `ssh exited with ${code ?? signal}`);
    });
  });
  return { stop: kill, exited };
}
