// A local unix socket that stands for a unix socket on a host (this machine or one reached over
// SSH: one path for both, so the local backend exercises what fleets use): every connection to `localPath` is
// piped to a fresh `openUnixSocket(remotePath)` stream. gRPC clients (grpc-js dials `unix://` paths,
// not arbitrary streams) reach the agent's socket on a remote host this way.
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { dirname } from 'node:path';
import type { Duplex } from 'node:stream';
import type { HostConnection } from './host-connection';

export interface SocketBridge {
  readonly localPath: string;
  /** Stops listening, ends every bridged connection, removes the local socket file. */
  close(): Promise<void>;
}

export async function bridgeUnixSocket(conn: HostConnection, remotePath: string, localPath: string): Promise<SocketBridge> {
  const pairs = new Set<{ local: Socket; remote?: Duplex }>();
  const server = createServer((local) => {
    const pair: { local: Socket; remote?: Duplex } = { local };
    pairs.add(pair);
    local.pause();
    local.on('error', () => local.destroy());
    local.on('close', () => {
      pairs.delete(pair);
      pair.remote?.destroy();
    });
    conn.openUnixSocket(remotePath).then(
      (remote) => {
        if (local.destroyed) return remote.destroy();
        pair.remote = remote;
        remote.on('error', () => local.destroy());
        remote.on('close', () => local.destroy());
        local.pipe(remote);
        remote.pipe(local);
        local.resume();
      },
      // The client sees its connection close; the next one tries again (the host may be back).
      () => local.destroy(),
    );
  });
  mkdirSync(dirname(localPath), { recursive: true, mode: 0o700 });
  rmSync(localPath, { force: true }); // a stale socket of an earlier process
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(localPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  chmodSync(localPath, 0o600);
  return {
    localPath,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const { local, remote } of pairs) {
        local.destroy();
        remote?.destroy();
      }
      await closed;
      rmSync(localPath, { force: true });
    },
  };
}
