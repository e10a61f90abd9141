// An SshHost for a test host (through its jump host when it has one), with the network's root key.
import { FileHostKeyStore, SshHost, type SshHostOptions } from '../../packages/backends/src/ssh/index';
import type { TestHost, TestHostNetwork } from '../harness/ssh-hosts';

export function sshHostFor(net: TestHostNetwork, host: TestHost, knownHostsFile: string, extra: Partial<SshHostOptions> = {}): SshHost {
  const via = host.via;
  return new SshHost({
    hostname: host.address,
    port: host.port,
    user: host.user,
    identityFile: net.keyPath,
    proxyJump: via && { hostname: via.address, port: via.port, user: via.user, identityFile: net.keyPath },
    knownHosts: new FileHostKeyStore(knownHostsFile),
    connectTimeoutMs: 15_000,
    ...extra,
  });
}
