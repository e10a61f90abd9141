// The daemon's way into a pod: a TCP listener on 127.0.0.1 whose every connection is one
// port-forward stream through the API server (`pods/{name}/portforward`, WebSocket, client-node's
// PortForward) to the pod's sshd. Nothing of the pod is exposed outside the cluster (no NodePort, no
// public IP), and everything that speaks TCP works through it unchanged: the daemon's SshHost (the
// agent's deploy and its socket) and the user's OpenSSH (`ssh NAME`, whose Host block jumps through
// this port). A loopback port rather than a ProxyCommand calling the CLI: OpenSSH connects with no
// process started per connection, and the daemon has to hold the same forward for its own link to
// the agent anyway. Other local users can connect to the port too, but reach only the pod's sshd,
// which takes this daemon's key alone and whose host key is pinned: what a public IP would expose.
import { createServer, type Server, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import type { KubeConfig } from '@kubernetes/client-node';

export interface ForwardTarget {
  kc: KubeConfig;
  namespace: string;
  pod: string;
  port: number;
}

export interface Forward {
  port: number;
  close(): Promise<void>;
}

/** Opens the listener (on `port`, or any free one for 0); each connection is its own stream. */
export async function openForward(t: ForwardTarget, port: number, log: (m: string) => void): Promise<Forward> {
  const { PortForward } = await import('@kubernetes/client-node');
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    // The pod's own words on the error channel ("failed to connect to localhost:10022 ...").
    const errors = new Sink((chunk: Buffer) => {
      const text = chunk.toString('utf8').trim();
      if (!text) return; // the first frame: the port number alone
      log(`kubernetes: port-forward to ${t.pod}:${t.port}: ${text}`);
      socket.destroy();
    });
    new PortForward(t.kc, true).portForward(t.namespace, t.pod, [t.port], socket, errors, socket).then(
      (ws) => {
        const w = ws as unknown as { on(e: string, f: () => void): void; close(): void };
        w.on('close', () => socket.end());
        w.on('error', () => socket.destroy());
        socket.on('close', () => w.close());
      },
      (err: Error) => {
        log(`kubernetes: port-forward to ${t.pod}:${t.port} refused: ${err.message}`);
        socket.destroy();
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.unref();
  return {
    port: (server.address() as { port: number }).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A Writable that hands each chunk to `fn`. */
class Sink extends Writable {
  constructor(private readonly fn: (chunk: Buffer) => void) {
    super();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.fn(chunk);
    cb();
  }
}
