// Non-TTY sessions in a container (`ssh host cmd`, rsync, tar pipes) with stdin, stdout and stderr
// on FIFOs in a private folder of the container's /tmp, so bulk data moves through kernel pipes
// between the agent and the process instead of through dockerd's exec stream (where every byte
// crosses the shim, dockerd and its HTTP connection: the slow part of a bulk copy; figures in the
// README's SSH speed table). The process is still made by Docker exec (its user, env, capabilities,
// cgroup and exit code are Docker's); only its descriptors are ours. Needs nothing in the image but /bin/sh.
//
// The agent opens its ends without blocking: stdout and stderr read-only (no EOF is reported
// before a writer has come and gone), stdin read-write (so the process's open never waits for a
// writer). A wrapper opens the three, writes one marker byte to stdout (stripped here), and execs
// the command. Our stdin end is closed only after the marker: closing it earlier would leave the
// process's open waiting forever for a writer. When the exec ends, a writer is opened and closed
// on stdout and stderr (the wrapper may have failed before opening them, or opened something else
// the user put at their names): that lets them report EOF after whatever they still hold once no
// process holds them, so nothing is lost and nothing waits forever. Anything the wrapper says before its redirections (a FIFO it cannot open)
// comes through the exec stream, which is kept and merged in.
import { execFile } from 'node:child_process';
import { close, constants, fstat, open as openCb } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { Socket } from 'node:net';
import { PassThrough, Writable, type Duplex, type Readable } from 'node:stream';
import { promisify } from 'node:util';
import type { DockerEngine } from './engine';
import { Demuxer, startExec, waitExit, type DockerExecOptions, type ExecInspect } from './exec';
import { handOver, makePrivateTmpDir, type PrivateDir } from '../ssh-server/private-tmp';
import { fdPath } from '../safe-fs/held-dir';
import type { SessionProcess, TargetUser } from '../ssh-server/target';

const MARKER = 0x2e; // "."
// $1..$3: the FIFOs; the rest: the command. `exec` with only redirections applies them to the shell.
const WRAPPER = 'exec 1>"$2" 2>"$3" 0<"$1" && printf . && shift 3 && exec "$@"';

export interface PipeExecOptions extends Omit<DockerExecOptions, 'pty'> {
  /** The container's root as a path on this host (/proc/<pid>/root). */
  root: string;
  /** The session's user, who must be able to open the FIFOs. */
  sessionUser: TargetUser;
}

const openFd = promisify(openCb);

const fstatFd = promisify(fstat);
const closeFd = promisify(close);

/** Our descriptor of each FIFO end, kept beside its socket: /proc/self/fd/N reopens that very FIFO. */
const endFd = new WeakMap<Socket, number>();

async function openEnd(dir: PrivateDir, name: string, flags: number, readable: boolean): Promise<Socket> {
  // A bare descriptor (not a FileHandle, which would close it when collected): net.Socket takes it
  // over, libuv watches it with epoll, and the socket closes it. Through the held folder, never
  // through a link, and only a FIFO.
  const fd = await openFd(dir.dir.at(name), flags | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  if (!(await fstatFd(fd)).isFIFO()) {
    await closeFd(fd);
    throw new Error(`${dir.virtual}/${name} is not the FIFO made for the session`);
  }
  const sock = new Socket({ fd, readable, writable: !readable });
  endFd.set(sock, fd);
  return sock;
}

/** Resolves once `s` has ended or closed (whichever comes first). */
function done(s: Readable | Duplex): Promise<void> {
  return new Promise((resolve) => {
    s.once('end', resolve);
    s.once('close', resolve);
    s.once('error', resolve);
  });
}

/** The FIFOs could not be made here (no mkfifo on the host, a read-only /tmp, a user namespace): use the exec stream. */
export class PipeSetupError extends Error {
  constructor(cause: Error) {
    super(`cannot make the session's FIFOs: ${cause.message}`);
    this.name = 'PipeSetupError';
  }
}

/**
 * Whether a /proc/<pid>/uid_map maps every uid to itself. In a user namespace (Docker's
 * userns-remap) the session user's uid inside is another uid here, so FIFOs handed to it from
 * here would not be its own.
 */
export function isIdentityUidMap(text: string): boolean {
  const lines = text
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/));
  return lines.length === 1 && lines[0].join(' ') === '0 0 4294967295';
}

async function checkNoUserNamespace(root: string): Promise<void> {
  const m = /^\/proc\/(\d+)\/root$/.exec(root);
  if (!m) return;
  const map = await readFile(`/proc/${m[1]}/uid_map`, 'utf8');
  if (!isIdentityUidMap(map)) throw new Error('the container runs in a user namespace');
}

export async function dockerPipeExec(engine: DockerEngine, containerId: string, o: PipeExecOptions): Promise<SessionProcess> {
  const sockets: Socket[] = [];
  let dir: PrivateDir | undefined;
  try {
    await checkNoUserNamespace(o.root);
    const made = makePrivateTmpDir(o.root, 'dstack-io');
    dir = made;
    const names = ['in', 'out', 'err'];
    // mkfifo is another process: it reaches the held folder through the agent's own descriptor table.
    await promisify(execFile)('mkfifo', ['-m', '600', ...names.map((n) => made.dir.at(n).replace('/proc/self/', `/proc/${process.pid}/`))]);
    // Our ends are opened while the folder is root's, then it is handed over (private-tmp.ts).
    sockets.push(
      await openEnd(made, 'in', constants.O_RDWR, false),
      await openEnd(made, 'out', constants.O_RDONLY, true),
      await openEnd(made, 'err', constants.O_RDONLY, true),
    );
    handOver(made, o.sessionUser, names);
  } catch (err) {
    for (const s of sockets) s.destroy();
    if (dir) await dir.remove().catch(() => {});
    throw new PipeSetupError(err as Error);
  }
  const [inEnd, outEnd, errEnd] = sockets;
  for (const s of sockets) s.on('error', () => {});
  const fifos = dir;
  const cleanup = () => fifos.remove().catch(() => {});

  let id: string;
  let stream: Duplex;
  try {
    const fifoPaths = ['in', 'out', 'err'].map((n) => `${fifos.virtual}/${n}`);
    ({ id, stream } = await startExec(engine, containerId, o, ['/bin/sh', '-c', WRAPPER, 'sh', ...fifoPaths, ...o.cmd], {
      stdin: false,
      tty: false,
    }));
  } catch (err) {
    for (const s of sockets) s.destroy();
    await cleanup();
    throw err;
  }

  const stdout = new PassThrough();
  const stderr = new PassThrough();
  // The exec stream: empty unless the wrapper failed before its redirections.
  const demux = new Demuxer((n, data) => (n === 2 ? stderr : stdout).write(data));
  stream.on('data', (chunk: Buffer) => demux.push(chunk));
  stream.on('error', () => {});
  const streamDone = done(stream);

  let opened = false;
  let markOpened: () => void;
  const openedOrGone = new Promise<void>((resolve) => (markOpened = resolve));
  let first = true;
  outEnd.on('data', (chunk: Buffer) => {
    if (first) {
      first = false;
      opened = chunk[0] === MARKER;
      markOpened();
      if (opened) {
        chunk = chunk.subarray(1);
        void cleanup(); // the process holds its descriptors: the names are no longer needed
      }
    }
    // Backpressure: a slow client pauses the FIFO and the process blocks on its write, as on a pipe.
    if (chunk.length && !stdout.write(chunk)) outEnd.pause();
  });
  stdout.on('drain', () => outEnd.resume());
  errEnd.on('data', (chunk: Buffer) => {
    if (!stderr.write(chunk)) errEnd.pause();
  });
  stderr.on('drain', () => errEnd.resume());

  // The exit is reported once the folder is gone too: a session leaves nothing behind.
  const finished = streamDone.then(async () => {
    markOpened();
    inEnd.destroy(); // the process is gone: what it did not read is dropped
    // A writer opened and closed on each FIFO lets it report EOF once no one else holds it open (a
    // background child still writing keeps it open, as it should). Needed whenever the wrapper may
    // not have opened one: it failed first, or the session's user swapped the name between our open
    // and the wrapper's, so the wrapper wrote elsewhere. Through our own read end's descriptor, not
    // the name, for the same reason.
    for (const end of [outEnd, errEnd]) {
      const fd = endFd.get(end);
      if (fd !== undefined && !end.destroyed)
        await open(fdPath(fd), constants.O_WRONLY | constants.O_NONBLOCK).then(
          (fh) => fh.close(),
          () => end.destroy(),
        );
    }
    await cleanup();
  });
  void Promise.all([streamDone, done(outEnd)]).then(() => stdout.end());
  void Promise.all([streamDone, done(errEnd)]).then(() => stderr.end());

  // Ends our stdin end (flushing what is queued) once the process holds its own; never destroys
  // it: the process's exit does (above).
  const stdin = new Writable({
    write: (chunk, _enc, cb) => (inEnd.destroyed ? cb() : inEnd.write(chunk, () => cb())),
    final: (cb) => {
      void openedOrGone.then(() => {
        if (!inEnd.destroyed) inEnd.end();
        cb();
      });
    },
  });

  let pid: number | undefined;
  const inspect = () => engine.json<ExecInspect>('GET', `/exec/${id}/json`);
  void inspect().then(
    (i) => (pid = i.Pid || undefined),
    () => {},
  );
  return {
    stdin,
    stdout,
    stderr,
    resize: () => {},
    signal: (sig) => {
      if (pid) process.kill(pid, sig);
      else
        void inspect().then(
          (i) => i.Pid && i.Running && process.kill(i.Pid, sig),
          () => {},
        );
    },
    exit: finished.then(() => waitExit(engine, id)),
  };
}
