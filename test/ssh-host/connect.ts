// An SshHost for a test host (through its jump host when it has one), with the network's root key.
// The hosts' own keys are read from their sshd's files (as a user would take them from the host's
// console) and given as accepted: they are recorded on first connect, as after a `y` at the prompt.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FileHostKeyStore, SshHost, type AcceptedHostKey, type SshHostOptions } from '../../packages/backends/src/ssh-client/index';
import type { TestHost, TestHostNetwork } from '../harness/ssh-hosts';

/** "ssh-ed25519 AAAA..." of a test host's sshd, as it is on disk now. */
export function publicHostKey(net: TestHostNetwork, host: TestHost): string {
  return readFileSync(join(net.dir, host.name, 'host_key.pub'), 'utf8')
    .split(' ')
    .slice(0, 2)
    .join(' ');
}

/** The host's key and its jump host's, accepted. */
export function acceptedKeysOf(net: TestHostNetwork, host: TestHost): AcceptedHostKey[] {
  return [host, host.via]
    .filter((h): h is TestHost => h !== undefined)
    .map((h) => ({ hostname: h.address, port: h.port, key: publicHostKey(net, h) }));
}

export function sshHostFor(net: TestHostNetwork, host: TestHost, knownHostsFile: string, extra: Partial<SshHostOptions> = {}): SshHost {
  const via = host.via;
  return new SshHost({
    hostname: host.address,
    port: host.port,
    user: host.user,
    identityFile: net.keyPath,
    proxyJump: via && { hostname: via.address, port: via.port, user: via.user, identityFile: net.keyPath },
    knownHosts: new FileHostKeyStore(knownHostsFile),
    acceptedKeys: acceptedKeysOf(net, host),
    connectTimeoutMs: 15_000,
    ...extra,
  });
}
