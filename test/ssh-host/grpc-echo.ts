// A gRPC service with raw-bytes messages (no .proto needed): enough to prove HTTP/2 framing, unary
// and server-streaming calls survive a bridged socket.
import * as grpc from '@grpc/grpc-js';
import { rmSync } from 'node:fs';

const raw = {
  requestSerialize: (b: Buffer) => b,
  requestDeserialize: (b: Buffer) => b,
  responseSerialize: (b: Buffer) => b,
  responseDeserialize: (b: Buffer) => b,
};
const SERVICE = {
  echo: { path: '/test.Echo/Echo', requestStream: false, responseStream: false, ...raw },
  repeat: { path: '/test.Echo/Repeat', requestStream: false, responseStream: true, ...raw },
} satisfies grpc.ServiceDefinition;

export interface EchoClient {
  echo(req: Buffer): Promise<Buffer>;
  /** Fifty answers: `${i}:${req}`. */
  repeat(req: Buffer): Promise<string[]>;
  close(): void;
}

/** Serves the echo service on a unix socket at `path` (a path on this machine). */
export async function startEchoServer(path: string): Promise<{ close(): void }> {
  const server = new grpc.Server();
  server.addService(SERVICE, {
    echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, call.request),
    repeat: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      for (let i = 0; i < 50; i++) call.write(Buffer.concat([Buffer.from(`${i}:`), call.request]));
      call.end();
    },
  });
  rmSync(path, { force: true });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${path}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  return { close: () => server.forceShutdown() };
}

export function echoClient(socketPath: string): EchoClient {
  const Client = grpc.makeGenericClientConstructor(SERVICE, 'Echo');
  const client = new Client(`unix://${socketPath}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    echo(req: Buffer, cb: (err: grpc.ServiceError | null, res?: Buffer) => void): void;
    repeat(req: Buffer): grpc.ClientReadableStream<Buffer>;
  };
  return {
    echo: (req) => new Promise((resolve, reject) => client.echo(req, (err, res) => (err ? reject(err) : resolve(res!)))),
    repeat: (req) =>
      new Promise((resolve, reject) => {
        const items: string[] = [];
        const call = client.repeat(req);
        call.on('data', (d: Buffer) => items.push(d.toString()));
        call.on('end', () => resolve(items));
        call.on('error', reject);
      }),
    close: () => client.close(),
  };
}
