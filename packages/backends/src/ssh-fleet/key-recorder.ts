// The host keys a connection was shown and accepted (recorded on first contact, or matching the
// record): the run's SSH block pins them for OpenSSH's ProxyJump through the host.
import { knownHostName, type HostKey, type HostKeyStore, type HostKeyVerdict } from '../ssh/known-hosts';

export class RecordingHostKeyStore implements HostKeyStore {
  private readonly seen = new Map<string, string>();

  constructor(private readonly inner: HostKeyStore) {}

  knownTypes(host: string, port: number): Promise<string[]> {
    return this.inner.knownTypes(host, port);
  }

  async verify(host: string, port: number, key: HostKey): Promise<HostKeyVerdict> {
    const verdict = await this.inner.verify(host, port, key);
    if (verdict.status !== 'changed') this.seen.set(knownHostName(host, port), `${key.type} ${key.data.toString('base64')}`);
    return verdict;
  }

  /** "ssh-ed25519 AAAA..." of the host, once a connection checked it. */
  keyOf(host: string, port: number): string | undefined {
    return this.seen.get(knownHostName(host, port));
  }
}
