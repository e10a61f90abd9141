// What applying a fleet file changes: each host of the file is added (new), kept (there and fine),
// or redeployed (its last deploy failed, its user, key or jump host changed, or a redeploy was asked
// for); each host of the fleet the file no longer lists is removed. Hosts are the same host when
// hostname and port are. Pure: the plan (GetFleetPlan) and the apply use it alike.
import { fingerprint, hostKeyFrom } from '@dstack/backends/ssh-client/known-hosts';
import { accessLabel, hostKeyOf, sameAccess, type HostAccess } from '@dstack/backends/ssh-fleet/access';

export type HostAction = 'add' | 'remove' | 'keep' | 'redeploy';

export interface CurrentHost {
  access: HostAccess;
  instanceName: string;
  num: number;
  /** Deployed and answering at least once (not failed, not half-provisioned). */
  ready: boolean;
  /** Why it is not ready (the failure of its last deploy). */
  message?: string;
  /** The active run on it, if any. */
  runName?: string;
}

export interface HostChange {
  action: HostAction;
  /** hostname:port */
  key: string;
  /** The file's access for add/keep/redeploy; the fleet's for remove. */
  access: HostAccess;
  num: number;
  instanceName?: string;
  runName?: string;
  reason?: string;
}

function lowestFree(taken: Set<number>): number {
  let n = 0;
  while (taken.has(n)) n++;
  taken.add(n);
  return n;
}

export function diffFleet(current: CurrentHost[], wanted: HostAccess[], opts: { redeploy?: boolean } = {}): HostChange[] {
  const byKey = new Map(current.map((c) => [hostKeyOf(c.access), c]));
  const taken = new Set(current.map((c) => c.num));
  const listed = new Set<string>();
  const changes: HostChange[] = [];
  for (const access of wanted) {
    const key = hostKeyOf(access);
    listed.add(key);
    const cur = byKey.get(key);
    if (!cur) {
      changes.push({ action: 'add', key, access, num: lowestFree(taken) });
      continue;
    }
    const base = { key, access, num: cur.num, instanceName: cur.instanceName, runName: cur.runName };
    if (!cur.ready)
      changes.push({ ...base, action: 'redeploy', reason: cur.message ? `its last deploy failed: ${cur.message}` : 'not deployed yet' });
    else if (!sameAccess(cur.access, access))
      changes.push({ ...base, action: 'redeploy', reason: `reached differently now (was ${describe(cur.access)})` });
    else if (opts.redeploy) changes.push({ ...base, action: 'redeploy', reason: 'redeploy asked for' });
    else changes.push({ ...base, action: 'keep' });
  }
  for (const cur of current) {
    const key = hostKeyOf(cur.access);
    if (listed.has(key)) continue;
    changes.push({ action: 'remove', key, access: cur.access, num: cur.num, instanceName: cur.instanceName, runName: cur.runName });
  }
  return changes;
}

function describe(a: HostAccess): string {
  const pin = a.hostKey ? `, host_key ${fingerprint(hostKeyFrom(a.hostKey))}` : '';
  return `${accessLabel(a)} with ${a.identityFile || 'the default key'}${pin}${a.proxyJump ? ` via ${accessLabel(a.proxyJump)}` : ''}`;
}
