// A local unix socket that grpc-js dials, each connection piped to HostConnection.openUnixSocket:
// for a remote host that is an SSH stream-local forward, for this machine a plain socket. One path
// for both, so the local backend exercises what fleets use.
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import type { Duplex } from 'node:stream';

export class SocketBridge {
  private readonly sockets = new Set<Socket | Duplex>();

  private constructor(
    readonly path: string,
    private readonly server: Server,
  ) {}

  static open(path: string, connect: () => Promise<Duplex>, onError: (err: Error) => void = () => {}): Promise<SocketBridge> {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    rmSync(path, { force: true });
    return new Promise((resolve, reject) => {
      let bridge: SocketBridge;
      const server = createServer((local) => {
        bridge.sockets.add(local);
        local.on('close', () => bridge.sockets.delete(local));
        local.on('error', () => {});
        local.pause();
        connect().then(
          (remote) => {
            bridge.sockets.add(remote);
            remote.on('close', () => {
              bridge.sockets.delete(remote);
              local.destroy();
            });
            remote.on('error', () => local.destroy());
            local.on('close', () => remote.destroy());
            local.pipe(remote);
            remote.pipe(local);
            local.resume();
          },
          (err: Error) => {
            onError(err);
            local.destroy();
          },
        );
      });
      bridge = new SocketBridge(path, server);
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        chmodSync(path, 0o600);
        resolve(bridge);
      });
    });
  }

  get address(): string {
    return `unix://${this.path}`;
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) =>
      this.server.close(() => {
        rmSync(this.path, { force: true });
        resolve();
      }),
    );
  }
}
