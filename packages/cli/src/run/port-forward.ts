// Local port forwards of a run's `ports`, through OpenSSH and the SSH config the daemon keeps
// ($DSTACK_HOME/ssh/config): `ssh -N -L 8080:localhost:8080 NAME`, a child stopped when we exit.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';

export interface PortMapping {
  local: number;
  remote: number;
}

/** A run's configured ports (local 0: any free port, taken as the container's). */
export function portMappings(ports: readonly { localPort: number; containerPort: number }[]): PortMapping[] {
  return ports.map((p) => ({ local: p.localPort || p.containerPort, remote: p.containerPort }));
}

export function sshForwardArgs(alias: string, ports: PortMapping[], configFile?: string): string[] {
  const args: string[] = [];
  if (configFile) args.push('-F', configFile);
  args.push('-N', '-o', 'ExitOnForwardFailure=yes', '-o', 'BatchMode=yes', '-o', 'ServerAliveInterval=15');
  for (const p of ports) args.push('-L', `${p.local}:localhost:${p.remote}`);
  args.push(alias);
  return args;
}

export interface Forwarder {
  stop(): void;
  readonly exited: Promise<string | undefined>;
}

/** Starts the forwards; the child is killed when stop() is called or this process exits. */
export function startForwards(alias: string, ports: PortMapping[], configFile: string): Forwarder | undefined {
  if (!ports.length) return undefined;
  // Its own process group: Ctrl+C on the terminal is ours to handle (it asks a question first).
  const child: ChildProcess = spawn('ssh', sshForwardArgs(alias, ports, existsSync(configFile) ? configFile : undefined), {
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
