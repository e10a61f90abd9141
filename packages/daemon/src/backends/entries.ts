// `backends:` in $DSTACK_HOME/config.yml, in the shape dstack's server config uses for the same
// providers, so an entry can be copied from dstack's docs:
//
//   backends:
//     - type: lambda
//       creds:
//         type: api_key
//         api_key: secret_...
//       regions: [us-east-1]
//
// RunPod's `community_cloud: false` (Secure Cloud only) is dstack's too. Plus `api_url:` (a proxy, a test double), `agent_url:` (where instances download the agent instead
// of receiving it from this machine) and, for VM clouds, `ssh_user:` (the login user of the
// provider's image; Lambda's is ubuntu). `dstack backend add` writes the key sealed
// (`api_key: sealed:...`, opened with $DSTACK_HOME/secret.key); a key written in clear works too,
// and `dstack backend list` says so.
import { isMap, isScalar, isSeq, type Node } from 'yaml';
import { CLOUD_TYPES, type CloudType } from '@dstack/core/cloud-types';
import { parseKubernetesEntry, type KubernetesEntry } from './kubernetes-entry';
import { parseSlurmEntry, type SlurmEntry } from './slurm-entry';
import { type At, type Fail, shown, pairs } from './entry-yaml';

/** dstack's types this build knows but cannot use yet. */
const LATER_TYPES = ['aws', 'gcp', 'azure'];

/** One `backends:` entry, by `type`: a GPU cloud's (below) or a cluster's (its own file). */
export type BackendEntry = CloudEntry | KubernetesEntry | SlurmEntry;

export interface CloudEntry {
  type: CloudType;
  /** As written: clear, or `sealed:<base64>`. */
  apiKey: string;
  regions: string[] | null;
  apiUrl: string | null;
  sshUser: string | null;
  /** Where instances download the agent (`{arch}` → x64, arm64); checked against the daemon's sha256. */
  agentUrl: string | null;
  /** RunPod: false keeps to its Secure Cloud (dstack's `community_cloud`); null: both. */
  communityCloud: boolean | null;
}

export const SEALED_PREFIX = 'sealed:';

/** An `api_url`: https anywhere, http only to this machine (a local proxy or test double). */
export function checkApiUrl(v: string): string | undefined {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return 'expected a URL like https://cloud.lambda.ai/api/v1';
  }
  if (u.protocol === 'https:') return undefined;
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname) || u.hostname.startsWith('127.');
  return u.protocol === 'http:' && loopback ? undefined : 'expected https:// (http:// only to this machine), keys travel in it';
}

/** An `agent_url`: plain http is fine, since what is fetched must have the daemon's own sha256. */
export function checkAgentUrl(v: string): string | undefined {
  return /^https?:\/\/[^/\s]+\/\S*$/.test(v) ? undefined : 'expected an http(s) URL of the agent executable ({arch}: x64 or arm64)';
}

export function parseBackends(node: Node | null, at: At, fail: Fail): BackendEntry[] {
  if (!isSeq(node)) fail(`${at(node)}: backends: expected a list of backends (- type: lambda ...), got ${shown(node)}`);
  const out: BackendEntry[] = [];
  node.items.forEach((item, i) => {
    const path = `backends[${i}]`;
    const itemNode = item as Node;
    if (!isMap(itemNode)) fail(`${at(itemNode)}: ${path}: expected a mapping with type: and creds:, got ${shown(itemNode)}`);
    if (itemNode.get('type') === 'slurm') {
      if (out.some((o) => o.type === 'slurm')) fail(`${at(itemNode)}: ${path}: a second slurm backend (list its clusters in clusters:)`);
      out.push(parseSlurmEntry(itemNode, path, at, fail));
      return;
    }
    if (itemNode.get('type') === 'kubernetes') {
      if (out.some((o) => o.type === 'kubernetes'))
        fail(`${at(itemNode)}: ${path}: a second kubernetes backend (list its clusters in contexts:)`);
      out.push(parseKubernetesEntry(itemNode, path, at, fail));
      return;
    }
    const e: Partial<CloudEntry> = { regions: null, apiUrl: null, sshUser: null, agentUrl: null, communityCloud: null };
    for (const [key, keyNode, v] of pairs(itemNode)) {
      const where = `${at(v ?? keyNode)}: ${path}.${key}`;
      const str = () => {
        if (!isScalar(v) || typeof v.value !== 'string' || !v.value.trim()) fail(`${where}: expected a string, got ${shown(v)}`);
        return (v.value as string).trim();
      };
      switch (key) {
        case 'type': {
          const t = str();
          if (LATER_TYPES.includes(t))
            fail(`${where}: ${JSON.stringify(t)} is not supported by this version yet (supported: ${CLOUD_TYPES.join(', ')})`);
          if (!(CLOUD_TYPES as readonly string[]).includes(t))
            fail(`${where}: unknown backend type ${JSON.stringify(t)} (supported: ${CLOUD_TYPES.join(', ')})`);
          e.type = t as CloudType;
          break;
        }
        case 'creds': {
          if (!isMap(v)) fail(`${where}: expected a mapping (type: api_key, api_key: ...), got ${shown(v)}`);
          for (const [ck, ckNode, cv] of pairs(v)) {
            const cwhere = `${at(cv ?? ckNode)}: ${path}.creds.${ck}`;
            const val = isScalar(cv) && typeof cv.value === 'string' ? cv.value.trim() : undefined;
            if (ck === 'type') {
              if (val !== 'api_key') fail(`${cwhere}: only api_key is supported, got ${shown(cv)}`);
            } else if (ck === 'api_key') {
              // The key itself is never quoted back.
              if (!val) fail(`${cwhere}: expected the provider's API key as a string`);
              e.apiKey = val;
            } else fail(`${at(ckNode)}: unknown setting ${JSON.stringify(`${path}.creds.${ck}`)} (known: type, api_key)`);
          }
          break;
        }
        case 'regions': {
          if (!isSeq(v) || !v.items.length) fail(`${where}: expected a list of region names, got ${shown(v)}`);
          e.regions = v.items.map((r) => {
            if (!isScalar(r) || typeof r.value !== 'string' || !r.value.trim())
              fail(`${at(r as Node)}: ${path}.regions: expected a region name, got ${shown(r)}`);
            return (r.value as string).trim();
          });
          break;
        }
        case 'api_url': {
          const url = str();
          const bad = checkApiUrl(url);
          if (bad) fail(`${where}: ${bad}, got ${JSON.stringify(url)}`);
          e.apiUrl = url;
          break;
        }
        case 'ssh_user':
          e.sshUser = str();
          break;
        case 'agent_url': {
          const url = str();
          const bad = checkAgentUrl(url);
          if (bad) fail(`${where}: ${bad}, got ${JSON.stringify(url)}`);
          e.agentUrl = url;
          break;
        }
        case 'community_cloud':
          if (!isScalar(v) || typeof v.value !== 'boolean') fail(`${where}: expected true or false, got ${shown(v)}`);
          e.communityCloud = v.value as boolean;
          break;
        default:
          fail(
            `${at(keyNode)}: unknown setting ${JSON.stringify(`${path}.${key}`)} (known: type, creds, regions, api_url, agent_url, ssh_user, community_cloud)`,
          );
      }
    }
    if (!e.type) fail(`${at(itemNode)}: ${path}: type: is required (${CLOUD_TYPES.join(', ')})`);
    if (!e.apiKey) fail(`${at(itemNode)}: ${path}: creds: {type: api_key, api_key: ...} is required`);
    if (e.communityCloud !== null && e.type !== 'runpod')
      fail(`${at(itemNode)}: ${path}: community_cloud is a RunPod setting, not ${e.type}'s`);
    if (e.sshUser && e.type !== 'lambda')
      fail(`${at(itemNode)}: ${path}: ssh_user is for VM clouds (lambda); a ${e.type} instance is its container, reached as root`);
    if (out.some((o) => o.type === e.type)) fail(`${at(itemNode)}: ${path}: a second ${e.type} backend (one entry per type)`);
    out.push(e as CloudEntry);
  });
  return out;
}
