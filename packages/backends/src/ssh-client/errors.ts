// Errors of SSH connections, one class per thing the user must do something different about: a host
// that cannot be reached (network, sshd down), a key the host refuses, a host key nobody accepted yet,
// a host whose key changed (or differs from its pin), an identity file we cannot use. Each message starts with the host it is about
// ("ssh root@10.0.0.2:22 via root@10.0.0.1:22: ...") so a fleet of many hosts reports clearly.

export type SshErrorKind =
  | 'unreachable'
  | 'auth'
  | 'host-key-unknown'
  | 'host-key-changed'
  | 'host-key-mismatch'
  | 'host-key-revoked'
  | 'identity'
  | 'known-hosts'
  | 'closed'
  | 'remote';

export class SshError extends Error {
  constructor(
    readonly kind: SshErrorKind,
    /** "ssh root@10.0.0.2:22 via root@10.0.0.1:22": the connection this is about. */
    readonly host: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${host}: ${message}`, options);
    this.name = 'SshError';
  }
}

/** TCP connect failed or timed out, the route is gone, sshd does not answer, or keepalives went unanswered. */
export class SshUnreachableError extends SshError {
  constructor(host: string, message: string, options?: { cause?: unknown }) {
    super('unreachable', host, message, options);
    this.name = 'SshUnreachableError';
  }
}

/** The host (or the jump host) did not accept our key for the user. */
export class SshAuthError extends SshError {
  constructor(host: string, message: string, options?: { cause?: unknown }) {
    super('auth', host, message, options);
    this.name = 'SshAuthError';
  }
}

/** No pin, no known_hosts entry and no acceptance for the key the host presented: refused, nothing recorded. */
export class SshHostKeyUnknownError extends SshError {
  constructor(
    host: string,
    message: string,
    /** "ssh-ed25519 AAAA...", and its SHA256 fingerprint. */
    readonly key: string,
    readonly fingerprint: string,
  ) {
    super('host-key-unknown', host, message);
    this.name = 'SshHostKeyUnknownError';
  }
}

/** The host presented another key than its `host_key:` pin. */
export class SshHostKeyMismatchError extends SshError {
  constructor(host: string, message: string) {
    super('host-key-mismatch', host, message);
    this.name = 'SshHostKeyMismatchError';
  }
}

/** The host presented a key other than the one recorded for it: possibly someone in the middle. */
export class SshHostKeyChangedError extends SshError {
  constructor(
    host: string,
    message: string,
    /** Where the recorded key is: the file and its 1-based line. */
    readonly knownHostsFile: string,
    readonly line: number,
  ) {
    super('host-key-changed', host, message);
    this.name = 'SshHostKeyChangedError';
  }
}

/** The identity file cannot be read or parsed, or needs a passphrase. */
export class SshIdentityError extends SshError {
  constructor(
    host: string,
    message: string,
    readonly file: string,
    options?: { cause?: unknown },
  ) {
    super('identity', host, message, options);
    this.name = 'SshIdentityError';
  }
}
