// Local port forwarding (ssh -L). Containers share the host's network, so the agent connects to
// the requested host:port itself; a unix socket (ssh -L port:/path) is reached through the
// target's filesystem. Each open forwarded channel counts as activity.
import { connect, type Socket } from 'node:net';
import type { ServerChannel, SocketRequestInfo, TcpipRequestInfo } from 'ssh2';
import { resolveIn } from './confine';
import type { SessionTarget } from './target';

type Accept = () => ServerChannel;

function splice(sock: Socket, accept: Accept, reject: () => void, end: () => void, onClose: (fn: () => void) => void): void {
  let channel: ServerChannel | undefined;
  const finish = () => {
    end();
    sock.destroy();
    channel?.close();
  };
  sock.once('connect', () => {
    channel = accept();
    if (!channel) return finish();
    sock.pipe(channel).pipe(sock);
    channel.on('close', finish);
    sock.on('close', finish);
    onClose(finish);
  });
  sock.once('error', () => {
    if (!channel) {
      end();
      reject();
    } else finish();
  });
}

export function forwardTcp(
  accept: Accept,
  reject: () => void,
  info: TcpipRequestInfo,
  begin: () => () => void,
  onClose: (fn: () => void) => void,
): void {
  const end = begin();
  splice(connect({ host: info.destIP, port: info.destPort }), accept, reject, end, onClose);
}

export function forwardUnix(
  accept: Accept,
  reject: () => void,
  info: SocketRequestInfo,
  target: SessionTarget,
  begin: () => () => void,
  onClose: (fn: () => void) => void,
): void {
  const end = begin();
  target
    .fsRoot()
    .then((root) => resolveIn(root, info.socketPath, '/'))
    .then(
      ({ host }) => splice(connect({ path: host }), accept, reject, end, onClose),
      () => {
        end();
        reject();
      },
    );
}
