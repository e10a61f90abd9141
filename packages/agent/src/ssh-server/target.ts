// Where a job's SSH sessions land. The SSH server (ssh-server/) knows only this interface; the runtime of
// the job provides it: inside the container through Docker exec, or on the host as a process group
// (node-pty for a TTY). Built-in services that touch files (sftp, the agent-forwarding socket) reach
// the target's filesystem through fsRoot().
import type { Readable, Writable } from 'node:stream';

export interface PtyRequest {
  term: string;
  cols: number;
  rows: number;
}

export interface SpawnSessionOptions {
  /** A command for `sh -c` (exec); undefined: the user's login shell. */
  command?: string;
  /** Allocate a TTY: stdout and stderr are merged into stdout. */
  pty?: PtyRequest;
  /** Extra env for this session (SSH env requests, SSH_AUTH_SOCK), on top of the job's env. */
  env: Record<string, string>;
}

export interface SessionExit {
  code: number | null;
  signal: string | null;
}

export interface SessionProcess {
  stdin: Writable;
  stdout: Readable;
  /** null with a TTY. */
  stderr: Readable | null;
  resize(cols: number, rows: number): void;
  signal(signal: NodeJS.Signals): void;
  readonly exit: Promise<SessionExit>;
}

/** Who sessions run as inside the target, as the target's own /etc/passwd (or the host) says. */
export interface TargetUser {
  name: string;
  uid: number;
  gid: number;
  /** Relative sftp paths resolve against it. */
  home: string;
}

export interface SessionTarget {
  readonly kind: 'docker' | 'host';
  /** Working dir of new sessions (/workflow in a container). */
  readonly workingDir: string;
  spawn(opts: SpawnSessionOptions): Promise<SessionProcess>;
  /**
   * The target's root filesystem as a path on the agent's host: "/" for the host,
   * /proc/<container pid>/root for a container.
   */
  fsRoot(): Promise<string>;
  /**
   * The session user (added by the SSH server's work, optional so existing targets still compile):
   * files that sftp creates and the agent-forwarding socket are given to this user, and sftp's
   * relative paths start at its home. When absent: the agent's own user, home "/".
   */
  user?(): Promise<TargetUser>;
}
