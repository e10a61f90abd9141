// The process a reverse forward's listener is opened in (`dstack-agent tcp-listen`, started by
// reverse-forward.ts): it starts as root, already inside the job's network namespace, becomes the
// session's user (as the SFTP helper does) and only then binds, so the kernel judges the port as it
// would for the user's own `listen()` (no port below 1024 for a user that is not root). The
// listening socket goes back to the agent over the IPC channel and this process ends: the agent
// accepts and relays, the socket stays the user's.
import { createServer } from 'node:net';
import { dropPrivileges } from '../sftp/helper';

export interface ListenHelperOptions {
  uid: number;
  gid: number;
  groups: number[];
  host: string;
  port: number;
}

/** What the helper says to the agent, with the listening socket as the message's handle. */
export type ListenHelperReply = { port: number } | { error: string };

export async function runListenHelper(o: ListenHelperOptions): Promise<void> {
  const send = process.send?.bind(process);
  if (!send) throw new Error('tcp-listen is started by the agent, with an IPC channel');
  dropPrivileges(o);
  const server = createServer();
  await new Promise<void>((resolve) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      send({ error: err.code ?? err.message } satisfies ListenHelperReply, undefined, {}, () => resolve());
    });
    server.listen({ host: o.host, port: o.port, exclusive: true }, () => {
      const port = (server.address() as { port: number }).port;
      // Closed here once handed over: the agent holds its own descriptor of the same socket.
      send({ port } satisfies ListenHelperReply, server, {}, () => server.close(() => resolve()));
    });
  });
  process.disconnect?.();
}
