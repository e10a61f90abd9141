// The SessionTarget of a job's container: where its SSH sessions run (Docker exec; FIFOs for
// sessions without a TTY, docker/pipe-exec.ts) and how its files are reached (/proc/<pid>/root, for
// sftp and the agent-forwarding socket).
import type { DockerEngine } from './engine';
import { dockerExec } from './exec';
import { dockerPipeExec, PipeSetupError } from './pipe-exec';
import { lookupUser, userDbKey } from '../ssh-server/target-user';
import type { SessionTarget, TargetUser } from '../ssh-server/target';
import { processStart } from '../runtime/host';

export interface DockerSessionTargetOptions {
  engine: DockerEngine;
  containerId: string;
  workingDir: string;
  /** Docker's User form; empty: the image's user. */
  user?: string;
  /** The job's env (config env plus DSTACK_* variables). */
  env: Record<string, string>;
  /** The job's shell; else bash where the image has it, else /bin/sh. */
  shell?: string;
  /** false: sessions without a TTY use the exec stream too (tests of that path). */
  pipes?: boolean;
  /** Where a note about the session path goes (the agent's log). */
  log?: (line: string) => void;
}

// Decided inside the container, where we can see whether bash exists.
const LOGIN_SHELL = 'if command -v bash >/dev/null 2>&1; then exec bash -l; else exec /bin/sh -l; fi';

export function dockerSessionTarget(o: DockerSessionTargetOptions): SessionTarget {
  // Per session only what can change: the container's PID 1 is asked of Docker once and checked
  // by its start time afterwards (a reused pid is another process), the user is looked up again
  // only when /etc/passwd or /etc/group changed.
  let main: { pid: number; start: number | undefined } | undefined;
  const fsRoot = async () => {
    if (main && processStart(main.pid) === main.start) return `/proc/${main.pid}/root`;
    const info = await o.engine.json<{ State: { Pid: number; Running: boolean } }>(
      'GET',
      `/containers/${encodeURIComponent(o.containerId)}/json`,
    );
    if (!info.State.Running || !info.State.Pid) throw new Error(`container ${o.containerId} is not running`);
    main = { pid: info.State.Pid, start: processStart(info.State.Pid) };
    return `/proc/${info.State.Pid}/root`;
  };
  let known: { key: string; user: TargetUser } | undefined;
  // Sessions without a TTY get FIFOs (docker/pipe-exec.ts) until making them fails once. Off with
  // DSTACK_AGENT_EXEC_STREAM=1 (the bench measures both).
  let pipes = !process.env.DSTACK_AGENT_EXEC_STREAM && o.pipes !== false;
  const user = async () => {
    const root = await fsRoot();
    const key = `${root} ${userDbKey(root)}`;
    if (known?.key !== key) known = { key, user: await lookupUser(root, o.user) };
    return known.user;
  };
  return {
    kind: 'docker',
    workingDir: o.workingDir,
    fsRoot,
    user,
    spawn: async (s) => {
      const u = await user();
      const shell = o.shell ?? '/bin/sh';
      const cmd = s.command !== undefined ? [shell, '-c', s.command] : o.shell ? [o.shell, '-l'] : ['/bin/sh', '-c', LOGIN_SHELL];
      const env = { HOME: u.home, USER: u.name, LOGNAME: u.name, ...o.env, ...s.env };
      const exec = { cmd, env, workingDir: o.workingDir, user: o.user };
      if (!s.pty && pipes) {
        try {
          return await dockerPipeExec(o.engine, o.containerId, { ...exec, root: await fsRoot(), sessionUser: u });
        } catch (err) {
          if (!(err instanceof PipeSetupError)) throw err;
          pipes = false; // it will not work better next time: every later session uses the exec stream
          o.log?.(`ssh: ${err.message}; sessions without a TTY use Docker's exec stream (slower for bulk data)`);
        }
      }
      return dockerExec(o.engine, o.containerId, { ...exec, pty: s.pty });
    },
  };
}
