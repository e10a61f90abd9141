// A `type: slurm` entry of `backends:`, in dstack's shape (its SlurmBackendFileConfigWithCreds):
//
//   - type: slurm
//     clusters:
//       - name: lab                   # the region offers carry
//         hostname: login.lab.example # the login node, where sinfo/sbatch/squeue/scancel are
//         port: 22                    # optional
//         user: alice
//         private_key:
//           path: ~/.ssh/id_ed25519
//         host_key: ssh-ed25519 AAAA… # dstack-ts, optional: the login node's key (else known_hosts)
//         partitions: [gpu, cpu]      # dstack-ts, optional: only these partitions
//     pending_timeout: 10m            # dstack-ts: a job still pending after this is cancelled (no capacity)
//
// dstack's gpu_partitions/cpu_partitions are not needed (each node's GPUs come from its gres) and
// are refused with why; so is proxy_jump (the login node is the jump host to the compute nodes, and
// one jump is what the daemon's SSH client makes). private_key.content is refused: the key stays in
// its file.
import { homedir } from 'node:os';
import { join } from 'node:path';
import { isMap, isScalar, isSeq, type Node, type YAMLMap } from 'yaml';
import { SlurmBackend, type SlurmClusterConfig } from '@dstack/backends/slurm/backend';
import { FileHostKeyStore } from '@dstack/backends/ssh-client/known-hosts';
import { parseDuration } from '@dstack/core/duration';
import type { CloudDeps } from './cloud-backends';
import { type At, type Fail, shown, pairs, expandHome } from './entry-yaml';

/** A cluster as its entry says: what the backend takes. */
export type SlurmClusterEntry = SlurmClusterConfig;

export interface SlurmEntry {
  type: 'slurm';
  clusters: SlurmClusterEntry[];
  pendingTimeoutMs: number;
}

const DEFAULT_PENDING_TIMEOUT_MS = 10 * 60_000;

const REFUSED: Record<string, string> = {
  gpu_partitions: 'not needed by dstack-ts: each node’s GPUs are read from its Slurm gres (sinfo); use partitions: to narrow',
  cpu_partitions: 'not needed by dstack-ts: a partition’s nodes say what they have; use partitions: to narrow',
  proxy_jump:
    'not supported: the login node is the jump host to the compute nodes and the daemon makes one jump; run the daemon where the login node is reachable',
};

function parseCluster(node: Node, path: string, at: At, fail: Fail): SlurmClusterEntry {
  if (!isMap(node)) fail(`${at(node)}: ${path}: expected a mapping (name:, hostname:, user:, private_key:), got ${shown(node)}`);
  const c: Partial<SlurmClusterEntry> = { port: 22, hostKey: null, partitions: null };
  for (const [key, keyNode, v] of pairs(node)) {
    const where = `${at(v ?? keyNode)}: ${path}.${key}`;
    const str = (): string => {
      if (!isScalar(v) || typeof v.value !== 'string' || !v.value.trim()) fail(`${where}: expected a string, got ${shown(v)}`);
      return (v.value as string).trim();
    };
    switch (key) {
      case 'name': {
        const name = str();
        if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name))
          fail(`${where}: expected letters, digits, '.', '_' or '-', got ${JSON.stringify(name)}`);
        c.name = name;
        break;
      }
      case 'hostname':
        c.hostname = str();
        break;
      case 'user':
        c.user = str();
        break;
      case 'port':
        if (!isScalar(v) || !Number.isInteger(v.value) || (v.value as number) < 1 || (v.value as number) > 65535)
          fail(`${where}: expected a port number (1-65535), got ${shown(v)}`);
        c.port = v.value as number;
        break;
      case 'host_key': {
        const k = str();
        if (!/^(ssh-|ecdsa-)\S+ [A-Za-z0-9+/=]+$/.test(k))
          fail(`${where}: expected a public key line like "ssh-ed25519 AAAA...", got ${JSON.stringify(k)}`);
        c.hostKey = k;
        break;
      }
      case 'private_key': {
        if (!isMap(v)) fail(`${where}: expected a mapping (path: ~/.ssh/id_ed25519), got ${shown(v)}`);
        for (const [pk, pkNode, pv] of pairs(v)) {
          const pwhere = `${at(pv ?? pkNode)}: ${path}.private_key.${pk}`;
          if (pk === 'path') {
            if (!isScalar(pv) || typeof pv.value !== 'string' || !pv.value.trim())
              fail(`${pwhere}: expected a file path, got ${shown(pv)}`);
            c.identityFile = expandHome((pv.value as string).trim());
          } else if (pk === 'content') fail(`${pwhere}: not supported: keep the key in its file and give path:`);
          else fail(`${at(pkNode)}: unknown setting ${JSON.stringify(`${path}.private_key.${pk}`)} (known: path)`);
        }
        break;
      }
      case 'partitions':
        if (!isSeq(v) || !v.items.length) fail(`${where}: expected a list of partition names, got ${shown(v)}`);
        c.partitions = v.items.map((p) => {
          if (!isScalar(p) || typeof p.value !== 'string' || !p.value.trim())
            fail(`${at(p as Node)}: ${path}.partitions: expected a partition name, got ${shown(p)}`);
          return (p.value as string).trim();
        });
        break;
      default:
        if (REFUSED[key]) fail(`${at(keyNode)}: ${path}.${key}: ${REFUSED[key]}`);
        fail(
          `${at(keyNode)}: unknown setting ${JSON.stringify(`${path}.${key}`)} (known: name, hostname, port, user, private_key, host_key, partitions)`,
        );
    }
  }
  for (const k of ['name', 'hostname', 'user'] as const) if (!c[k]) fail(`${at(node)}: ${path}: ${k}: is required`);
  if (!c.identityFile) fail(`${at(node)}: ${path}: private_key: {path: ...} is required`);
  return c as SlurmClusterEntry;
}

export function parseSlurmEntry(item: YAMLMap, path: string, at: At, fail: Fail): SlurmEntry {
  const e: SlurmEntry = { type: 'slurm', clusters: [], pendingTimeoutMs: DEFAULT_PENDING_TIMEOUT_MS };
  let listed = false;
  for (const [key, keyNode, v] of pairs(item)) {
    const where = `${at(v ?? keyNode)}: ${path}.${key}`;
    switch (key) {
      case 'type':
        break;
      case 'clusters':
        if (!isSeq(v) || !v.items.length) fail(`${where}: expected a list of clusters (- name: ..., hostname: ...), got ${shown(v)}`);
        listed = true;
        v.items.forEach((c, i) => {
          const cluster = parseCluster(c as Node, `${path}.clusters[${i}]`, at, fail);
          if (e.clusters.some((o) => o.name === cluster.name))
            fail(`${at(c as Node)}: ${path}.clusters[${i}]: a second cluster named ${cluster.name}`);
          e.clusters.push(cluster);
        });
        break;
      case 'pending_timeout': {
        let s: number;
        try {
          s = parseDuration(isScalar(v) ? v.value : v);
        } catch (err) {
          fail(`${where}: ${(err as Error).message}`);
        }
        if (s < 1) fail(`${where}: must be at least 1s`);
        e.pendingTimeoutMs = s * 1000;
        break;
      }
      default:
        fail(`${at(keyNode)}: unknown setting ${JSON.stringify(`${path}.${key}`)} (known: type, clusters, pending_timeout)`);
    }
  }
  if (!listed)
    fail(`${at(item)}: ${path}: clusters: is required (- name: ..., hostname: <login node>, user: ..., private_key: {path: ...})`);
  return e;
}

/** The entry's backend: its jobs named with this home's prefix, login host keys checked as fleet hosts' are. */
export function slurmBackend(entry: SlurmEntry, deps: CloudDeps): SlurmBackend {
  const file = deps.hostKeys instanceof FileHostKeyStore ? deps.hostKeys.file : '';
  return new SlurmBackend({
    clusters: entry.clusters,
    namePrefix: deps.namePrefix,
    knownHostsFile: file,
    // The user's own: a login node they reach with OpenSSH already is known.
    userKnownHostsFiles: () => [join(homedir(), '.ssh', 'known_hosts')],
    pendingTimeoutMs: entry.pendingTimeoutMs,
    log: deps.log,
  });
}
