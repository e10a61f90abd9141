// gRPC plumbing shared by our two services (the daemon's on daemon.sock, the agent's on agent.sock):
// the error classes a handler throws, each mapped to its status code with the message as the one line
// the caller shows; the adapters that turn a plain (async) function into a grpc-js handler; and the
// unix-socket server both listen with.
import {
  Server,
  ServerCredentials,
  status as Status,
  type ServerUnaryCall,
  type ServerWritableStream,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { chmodSync } from 'node:fs';

/** Bad input from the caller (INVALID_ARGUMENT). */
export class BadRequestError extends Error {
  override name = 'BadRequestError';
}
/** What the request names does not exist (NOT_FOUND). */
export class NotFoundError extends Error {
  override name = 'NotFoundError';
}
/** Something of that name exists already (ALREADY_EXISTS). */
export class ConflictError extends Error {
  override name = 'ConflictError';
}
/** The request is fine but the state does not allow it now (FAILED_PRECONDITION). */
export class PreconditionError extends Error {
  override name = 'PreconditionError';
}
/** An rpc this build does not serve (UNIMPLEMENTED). */
export class NotImplementedError extends Error {
  override name = 'NotImplementedError';
}

/** The status code for an error a handler threw: INTERNAL for anything not one of ours (a bug). */
export function statusOf(err: unknown): Status {
  if (err instanceof BadRequestError) return Status.INVALID_ARGUMENT;
  if (err instanceof NotFoundError) return Status.NOT_FOUND;
  if (err instanceof ConflictError) return Status.ALREADY_EXISTS;
  if (err instanceof PreconditionError) return Status.FAILED_PRECONDITION;
  if (err instanceof NotImplementedError) return Status.UNIMPLEMENTED;
  return Status.INTERNAL;
}

/** Called for every error a handler ends with, before it goes to the caller (to log it). */
export type ErrorReport = (err: unknown, code: Status, message: string) => void;

/** The error as grpc-js sends it: the message is both `details` and `message`. */
export function serviceError(err: unknown, report?: ErrorReport): { code: Status; details: string; message: string; name: string } {
  const code = statusOf(err);
  const message = err instanceof Error ? err.message : String(err);
  report?.(err, code, message);
  return { code, details: message, message, name: 'Error' };
}

/** A unary handler from `fn`; a throw or a rejection answers with the error's status code. */
export function unary<Req, Res>(fn: (req: Req) => Res | Promise<Res>, report?: ErrorReport) {
  return (call: ServerUnaryCall<Req, Res>, cb: sendUnaryData<Res>): void => {
    Promise.resolve()
      .then(() => fn(call.request))
      .then(
        (res) => cb(null, res),
        (err: unknown) => cb(serviceError(err, report)),
      );
  };
}

/** A server-streaming handler from `fn`, which starts the stream; a synchronous throw ends the call with its status. */
export function serverStream<Req, T>(fn: (req: Req, call: ServerWritableStream<Req, T>) => void, report?: ErrorReport) {
  return (call: ServerWritableStream<Req, T>): void => {
    try {
      fn(call.request, call);
    } catch (err) {
      const e = serviceError(err, report);
      // grpc-js sends the status of an 'error' event when the stream ends; destroy() would skip
      // that end, and the client would wait for a status forever.
      call.emit('error', Object.assign(new Error(e.message), { code: e.code, details: e.details }));
    }
  };
}

/** Manifests of 20,000+ entries and large log pages fit in one message. */
const MAX_MESSAGE_BYTES = 256 * 1024 * 1024;

/** The message size limits both ends of our sockets use (servers and clients alike). */
export const CHANNEL_OPTIONS = {
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
} as const;

export function newServer(): Server {
  return new Server(CHANNEL_OPTIONS);
}

/** Binds `server` to the unix socket at `socketPath` and makes it 0600: only its owner (and root) may connect. */
export function bindUnix(server: Server, socketPath: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.bindAsync(`unix://${socketPath}`, ServerCredentials.createInsecure(), (err) => {
      if (err) return reject(err);
      chmodSync(socketPath, 0o600);
      resolve();
    });
  });
}
