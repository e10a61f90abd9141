// The daemon's socket, bound before the daemon is assembled. Loading and building the rest (the
// configuration schemas, the SSH client, the file watcher, state, backends) is most of a start's CPU,
// and on a loaded machine that is seconds in which a client found no socket at all and took the
// daemon for dead. So main.ts binds first and assembles after: Status answers at once (with no
// backends and no active runs counted until the daemon is assembled), every other call waits for the
// assembled daemon, and fails UNAVAILABLE with the reason if it never comes.
import { status as Status, type Server, type ServerUnaryCall, type ServerWritableStream, type sendUnaryData } from '@grpc/grpc-js';
import { DaemonService, type DaemonServer, type StatusResponse } from '@dstack/core/gen/daemon';
import { bindUnix, newServer } from '@dstack/core/grpc';

export interface EarlyServer {
  server: Server;
  /** Every call goes to `impl` from now on; the calls that waited go first. */
  serve(impl: DaemonServer): void;
  /** The daemon will not be assembled: the calls that wait, and any that come, fail with `message`. */
  fail(message: string): void;
}

type Handler = (call: ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown>, cb?: sendUnaryData<unknown>) => void;

/** Binds the daemon's service on `socketPath`; until serve(), Status answers `starting()`. */
export async function listenEarly(socketPath: string, starting: () => StatusResponse): Promise<EarlyServer> {
  let impl: Record<string, Handler> | undefined;
  let failed: string | undefined;
  const waiting: (() => void)[] = [];
  const gate: Record<string, Handler> = {};
  for (const [name, def] of Object.entries(DaemonService)) {
    gate[name] = (call, cb) => {
      const go = () => {
        if (impl) return impl[name]!(call, cb);
        const err = { code: Status.UNAVAILABLE, details: failed!, message: failed!, name: 'Error' };
        if (def.responseStream) call.emit('error', Object.assign(new Error(failed), err));
        else cb!(err);
      };
      if (impl || failed !== undefined) return go();
      if (name === 'status') return cb!(null, starting());
      waiting.push(go);
    };
  }
  const server = newServer();
  server.addService(DaemonService, gate);
  await bindUnix(server, socketPath);
  const release = () => {
    for (const go of waiting.splice(0)) go();
  };
  return {
    server,
    serve(real) {
      impl = real as unknown as Record<string, Handler>;
      release();
    },
    fail(message) {
      failed = message;
      release();
    },
  };
}
