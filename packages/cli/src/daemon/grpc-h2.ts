// A lean gRPC client over node:http2 on a unix socket: unary and server-streaming calls, framed by
// hand, encoded by the generated ts-proto codecs (the method table is the generated DaemonService,
// so the proto stays the truth of the API). The CLI uses it instead of @grpc/grpc-js, whose load
// is most of a short command's start-up; the daemon's side stays grpc-js.
import { connect as h2connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import { connect as netConnect } from 'node:net';

/** gRPC status codes this client produces or reads. */
export const Code = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  DEADLINE_EXCEEDED: 4,
  RESOURCE_EXHAUSTED: 8,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

/** A failed call, shaped like grpc-js's ServiceError (code, details). */
export class CallError extends Error {
  constructor(
    readonly code: number,
    readonly details: string,
  ) {
    super(`${code}: ${details}`);
    this.name = 'CallError';
  }
}

/** What the generated service definition gives for each method. */
export interface Method<Req, Res> {
  path: string;
  requestSerialize(value: Req): Buffer;
  responseDeserialize(value: Buffer): Res;
}

/** A server stream: its messages in order, then its end (or its error). */
export interface Call<T> extends AsyncIterable<T> {
  cancel(): void;
}

// A consumer that falls this many messages behind pauses the stream (HTTP/2 flow control then
// holds the daemon back).
const HIGH_WATER = 64;

export class Channel {
  private session: ClientHttp2Session | undefined;
  private active = 0;

  constructor(
    private readonly socket: string,
    private readonly maxMessageBytes = 64 * 1024 * 1024,
  ) {}

  unary<Req, Res>(method: Method<Req, Res>, req: Req, timeoutMs?: number): Promise<Res> {
    return new Promise((resolve, reject) => {
      let reply: Res | undefined;
      let got = false;
      this.call(method, req, timeoutMs, {
        message: (msg) => {
          reply = msg;
          got = true;
        },
        end: (err) => {
          if (err) reject(err);
          else if (!got) reject(new CallError(Code.INTERNAL, `${method.path}: the daemon sent no reply`));
          else resolve(reply as Res);
        },
      });
    });
  }

  serverStream<Req, Res>(method: Method<Req, Res>, req: Req): Call<Res> {
    const queue: Res[] = [];
    let finished = false;
    let failure: CallError | undefined;
    let wake: (() => void) | undefined;
    const notify = () => {
      wake?.();
      wake = undefined;
    };
    const { stream, cancel } = this.call(method, req, undefined, {
      message: (msg) => {
        queue.push(msg);
        if (queue.length >= HIGH_WATER) stream.pause();
        notify();
      },
      end: (err) => {
        finished = true;
        failure = err;
        notify();
      },
    });
    let cancelled = false;
    return {
      cancel: () => {
        if (cancelled || finished) return;
        cancelled = true;
        cancel();
      },
      async *[Symbol.asyncIterator]() {
        try {
          for (;;) {
            if (queue.length) {
              const msg = queue.shift() as Res;
              if (queue.length < HIGH_WATER / 2 && stream.isPaused()) stream.resume();
              yield msg;
            } else if (finished) {
              if (failure) throw failure;
              return;
            } else {
              await new Promise<void>((r) => (wake = r));
            }
          }
        } finally {
          // A consumer that stops iterating (break, an error) ends the call.
          if (!finished && !cancelled) {
            cancelled = true;
            cancel();
          }
        }
      },
    };
  }

  /** Closes the connection once the calls in flight end. */
  close(): void {
    this.session?.close();
    this.session = undefined;
  }

  private open(): ClientHttp2Session {
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    const session = h2connect('http://localhost', { createConnection: () => netConnect(this.socket) });
    // Failures reach the streams (each ends UNAVAILABLE); the session's own error is only noise here.
    session.on('error', () => {});
    session.unref();
    this.session = session;
    return session;
  }

  private call<Req, Res>(
    method: Method<Req, Res>,
    req: Req,
    timeoutMs: number | undefined,
    on: { message: (msg: Res) => void; end: (err?: CallError) => void },
  ): { stream: ClientHttp2Stream; cancel: () => void } {
    const session = this.open();
    const headers: Record<string, string> = {
      ':method': 'POST',
      ':path': method.path,
      'content-type': 'application/grpc',
      te: 'trailers',
    };
    if (timeoutMs) headers['grpc-timeout'] = `${Math.ceil(timeoutMs)}m`;
    const stream = session.request(headers);
    // An open call keeps the process alive; an idle connection does not.
    if (this.active++ === 0) session.ref();

    let done = false;
    let status: CallError | null | undefined; // null: OK
    // Only a cancel of ours ends a call CANCELLED: a daemon that dies resets its streams too.
    let cancelledHere = false;
    const cancel = () => {
      cancelledHere = true;
      stream.close(constants.NGHTTP2_CANCEL);
    };
    let timer: NodeJS.Timeout | undefined;
    const finish = (err?: CallError) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (--this.active === 0 && !session.destroyed) session.unref();
      on.end(err);
    };
    if (timeoutMs) {
      timer = setTimeout(() => {
        status = new CallError(Code.DEADLINE_EXCEEDED, 'Deadline exceeded');
        cancel();
      }, timeoutMs);
    }
    const readStatus = (h: IncomingHttpHeaders) => {
      if (h['grpc-status'] === undefined || status !== undefined) return;
      const code = Number(h['grpc-status']);
      status = code === Code.OK ? null : new CallError(code, decodeMessage(h['grpc-message']));
    };

    stream.on('response', (h) => {
      const http = Number(h[':status']);
      if (http !== 200 && h['grpc-status'] === undefined) {
        status = new CallError(Code.UNKNOWN, `the daemon answered HTTP ${http}`);
      }
      readStatus(h); // a trailers-only reply (an error) carries its status here
    });
    stream.on('trailers', readStatus);

    // Length-prefixed messages: 1 byte compressed flag, 4 bytes length, the message.
    let pending: Buffer = Buffer.alloc(0);
    stream.on('data', (chunk: Buffer) => {
      if (done || status) return;
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      while (pending.length >= 5) {
        const size = pending.readUInt32BE(1);
        if (pending[0] !== 0) return fail(new CallError(Code.INTERNAL, 'the daemon sent a compressed message this client cannot read'));
        if (size > this.maxMessageBytes) {
          return fail(new CallError(Code.RESOURCE_EXHAUSTED, `a message of ${size} bytes is over the limit of ${this.maxMessageBytes}`));
        }
        if (pending.length < 5 + size) break;
        const body = pending.subarray(5, 5 + size);
        pending = pending.subarray(5 + size);
        let msg: Res;
        try {
          msg = method.responseDeserialize(body);
        } catch (err) {
          return fail(new CallError(Code.INTERNAL, `cannot decode the daemon's reply: ${(err as Error).message}`));
        }
        on.message(msg);
      }
    });
    const fail = (err: CallError) => {
      status = err;
      cancel();
    };
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (status === undefined)
        status = new CallError(
          Code.UNAVAILABLE,
          err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? 'No connection established' : err.message,
        );
    });
    stream.on('close', () => {
      if (status === undefined) {
        status = cancelledHere
          ? new CallError(Code.CANCELLED, 'Cancelled')
          : new CallError(Code.UNAVAILABLE, 'the connection closed before the call ended');
      }
      finish(status ?? undefined);
    });

    const body = method.requestSerialize(req);
    const frame = Buffer.allocUnsafe(5 + body.length);
    frame[0] = 0;
    frame.writeUInt32BE(body.length, 1);
    body.copy(frame, 5);
    stream.end(frame);
    return { stream, cancel };
  }
}

/** grpc-message is percent-encoded (the spec's rule for non-ASCII and '%'). */
function decodeMessage(v: string | string[] | undefined): string {
  const s = Array.isArray(v) ? v.join(',') : (v ?? '');
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
