// SSH access to hosts: SshHost (a HostConnection over ssh2, through a jump host when given), host
// key pinning in a known_hosts file, and a local unix socket bridged to a socket on the host.
export { SshHost, type SshHostOptions, type SshJumpOptions, type UploadOptions } from './ssh-host';
export {
  describeKey,
  FileHostKeyStore,
  fingerprint,
  hopTrust,
  hostKeyFrom,
  hostKeyText,
  keyTypeName,
  keyTypeOf,
  knownHostName,
  type AcceptedHostKey,
  type HopTrust,
  type HostKey,
  type HostKeyStore,
  type HostKeyVerdict,
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
  type SshErrorKind,
} from './errors';
export { loadIdentity } from './identity';
export { bridgeUnixSocket, type SocketBridge } from '../socket-bridge';
