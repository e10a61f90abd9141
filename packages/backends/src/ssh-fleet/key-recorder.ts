// The host keys a connection was shown and trusted (pinned, known, or accepted and now recorded):
// the run's SSH block pins them for OpenSSH's ProxyJump through the host.
import { hostKeyText, knownHostName, type HopTrust, type HostKey, type HostKeyStore, type HostKeyVerdict } from '../ssh-client/known-hosts';

export class RecordingHostKeyStore implements HostKeyStore {
  private readonly seen = new Map<string, string>();

  constructor(readonly inner: HostKeyStore) {}

  knownTypes(host: string, port: number, trust?: HopTrust): Promise<string[]> {
    return this.inner.knownTypes(host, port, trust);
  }

  async verify(host: string, port: number, key: HostKey, trust?: HopTrust): Promise<HostKeyVerdict> {
    const verdict = await this.inner.verify(host, port, key, trust);
    if (verdict.status === 'match' || verdict.status === 'recorded') this.seen.set(knownHostName(host, port), hostKeyText(key));
    return verdict;
  }

  /** "ssh-ed25519 AAAA..." of the host, once a connection checked it. */
  keyOf(host: string, port: number): string | undefined {
    return this.seen.get(knownHostName(host, port));
  }
}
