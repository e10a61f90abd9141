// SSH access to hosts: SshHost (a HostConnection over ssh2, through a jump host when given), host
// key pinning in a known_hosts file, and a local unix socket bridged to a socket on the host.
export { SshHost, type SshHostOptions } from './ssh-host';
export {
  FileHostKeyStore,
  type AcceptedHostKey,
} from './known-hosts';
export { scanHostKey } from './connect';
export {
  SshAuthError,
  SshError,
  SshHostKeyChangedError,
  SshHostKeyMismatchError,
  SshHostKeyUnknownError,
  SshIdentityError,
  SshUnreachableError,
} from './errors';
export { bridgeUnixSocket } from '../socket-bridge';
