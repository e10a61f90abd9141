// One way to reach a host, whatever is between us and it. The daemon deploys and talks to the agent
// through this interface only, so agent deployment is one code path for this machine (LocalHost:
// child processes and local sockets) and for remote hosts (SshHost: ssh2, through jump hosts).
import type { Duplex, Readable } from 'node:stream';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Bytes for the command's stdin. */
  input?: string | Buffer;
  timeoutMs?: number;
}

export interface HostConnection {
  /** For messages: "this machine", "ssh ubuntu@10.0.0.2:22 via jump@10.0.0.1". */
  readonly description: string;
  /** Runs a command through `sh -c` on the host. Never throws for a non-zero exit. */
  exec(command: string, opts?: ExecOptions): Promise<ExecResult>;
  /** Writes a stream to a file on the host (created with `mode`), atomically: a temp file, then rename. */
  upload(source: Readable, remotePath: string, mode?: number): Promise<void>;
  /** A byte stream to a unix socket on the host (the agent's gRPC socket). */
  openUnixSocket(path: string): Promise<Duplex>;
  close(): Promise<void>;
}
