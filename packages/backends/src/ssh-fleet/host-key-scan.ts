// Before a fleet is applied: the host keys of its hosts and jump hosts that nothing trusts yet (no
// host_key pin, no known_hosts entry, not accepted), read from the hosts without logging in, so the
// CLI can show their fingerprints and ask. A host behind a jump host can only be reached once the jump
// host's key is trusted: until then it is listed as waiting, and the CLI scans again after asking.
// Hosts that cannot be reached (or whose known key changed) are left to the apply, which reports them.
import { scanHostKey, type Keepalive } from '../ssh-client/connect';
import { loadIdentity } from '../ssh-client/identity';
import { hopTrust, knownHostName, type AcceptedHostKey, type HostKey, type HostKeyStore } from '../ssh-client/known-hosts';
import { accessLabel, type HostAccess, type JumpAccess } from './access';

export interface UnknownHostKey {
  hostname: string;
  port: number;
  /** user@host:port, as the plan names it. */
  label: string;
  /** A jump host (proxy_jump), not a fleet host. */
  jump: boolean;
  key: HostKey;
}

export interface HostKeyScan {
  unknown: UnknownHostKey[];
  /** Hosts (user@host:port) behind a jump host whose key is among `unknown`: scan again once it is accepted. */
  waiting: string[];
}

export interface ScanDeps {
  store: HostKeyStore;
  keepalive: Keepalive;
  timeoutMs: number;
}

export async function scanUnknownHostKeys(hosts: HostAccess[], accepted: AcceptedHostKey[], deps: ScanDeps): Promise<HostKeyScan> {
  const trusted = async (e: JumpAccess) =>
    (await deps.store.knownTypes(e.hostname, e.port, hopTrust(e.hostname, e.port, e.hostKey, accepted))).length > 0;
  const scans = new Map<string, Promise<UnknownHostKey | undefined>>();
  const waiting: string[] = [];
  const scan = (e: JumpAccess, jump: boolean, via?: JumpAccess) => {
    const name = knownHostName(e.hostname, e.port);
    if (scans.has(name)) return;
    const description = `ssh ${accessLabel(e)}${via ? ` via ${accessLabel(via)}` : ''}`;
    const read = async () => {
      const key = await scanHostKey({
        target: e,
        jump: via && {
          endpoint: via,
          identityFile: via.identityFile,
          key: loadIdentity(via.identityFile, description),
          trust: hopTrust(via.hostname, via.port, via.hostKey, accepted),
        },
        knownHosts: deps.store,
        keepalive: deps.keepalive,
        timeoutMs: deps.timeoutMs,
        description,
      });
      return { hostname: e.hostname, port: e.port, label: accessLabel(e), jump, key };
    };
    scans.set(
      name,
      read().catch(() => undefined),
    );
  };
  for (const h of hosts) {
    const j = h.proxyJump;
    const jumpTrusted = j ? await trusted(j) : true;
    if (j && !jumpTrusted) scan(j, true);
    if (await trusted(h)) continue;
    if (!jumpTrusted) waiting.push(accessLabel(h));
    else scan(h, false, j ?? undefined);
  }
  const unknown = (await Promise.all(scans.values())).filter((u): u is UnknownHostKey => u !== undefined);
  return { unknown, waiting };
}
