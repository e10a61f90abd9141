// A `type: kubernetes` entry of `backends:`, in dstack's shape (its KubernetesBackendConfig):
//
//   - type: kubernetes
//     kubeconfig:
//       filename: ~/.kube/config      # or data: <the kubeconfig's text>
//     contexts: [prod-gpu]            # optional, dstack's: each a cluster, its name the region
//     namespace: ml                   # optional (default: the context's namespace, else default)
//     pending_timeout: 3m             # dstack-ts: how long a pod may stay unschedulable
//     price: 0                        # dstack-ts: what an offer shows per hour (default 0)
//
// dstack's `proxy_jump` (SSH through a node's NodePort) is refused with why: dstack-ts reaches pods
// through the API server's port-forward and needs no port open on a node. The kubeconfig is read when
// the backend is first used; a missing file is said then, naming the entry.
import { existsSync } from 'node:fs';
import { isMap, isScalar, isSeq, type Node, type YAMLMap } from 'yaml';
import { parseDuration } from '@dstack/core/duration';
import { type At, type Fail, shown, pairs, expandHome } from './entry-yaml';

export interface KubernetesEntry {
  type: 'kubernetes';
  kubeconfig: { filename: string | null; data: string | null };
  contexts: string[] | null;
  namespace: string | null;
  pendingTimeoutMs: number;
  price: number;
}

/** The default of `pending_timeout`: room for a cluster autoscaler to add a node. */
export const DEFAULT_PENDING_TIMEOUT_MS = 3 * 60_000;

const KNOWN = 'type, kubeconfig, contexts, namespace, pending_timeout, price';

const PROXY_JUMP =
  'proxy_jump is not needed by dstack-ts: it reaches pods through the API server’s port-forward (pods/portforward), with no port open on a node; remove it';

export function parseKubernetesEntry(item: YAMLMap, path: string, at: At, fail: Fail): KubernetesEntry {
  const e: KubernetesEntry = {
    type: 'kubernetes',
    kubeconfig: { filename: null, data: null },
    contexts: null,
    namespace: null,
    pendingTimeoutMs: DEFAULT_PENDING_TIMEOUT_MS,
    price: 0,
  };
  let sawKubeconfig = false;
  for (const [key, keyNode, v] of pairs(item)) {
    const where = `${at(v ?? keyNode)}: ${path}.${key}`;
    const str = (node: Node | null, w: string) => {
      if (!isScalar(node) || typeof node.value !== 'string' || !node.value.trim()) fail(`${w}: expected a string, got ${shown(node)}`);
      return (node.value as string).trim();
    };
    switch (key) {
      case 'type':
        break;
      case 'kubeconfig': {
        if (!isMap(v)) fail(`${where}: expected a mapping (filename: ~/.kube/config, or data: ...), got ${shown(v)}`);
        sawKubeconfig = true;
        for (const [k, kNode, kv] of pairs(v)) {
          const w = `${at(kv ?? kNode)}: ${path}.kubeconfig.${k}`;
          if (k === 'filename') e.kubeconfig.filename = expandHome(str(kv, w));
          else if (k === 'data') e.kubeconfig.data = str(kv, w);
          else fail(`${at(kNode)}: unknown setting ${JSON.stringify(`${path}.kubeconfig.${k}`)} (known: filename, data)`);
        }
        if (!e.kubeconfig.filename && !e.kubeconfig.data) fail(`${where}: filename or data must be specified`);
        if (!e.kubeconfig.data && !existsSync(e.kubeconfig.filename!))
          fail(`${where}.filename: no such file: ${JSON.stringify(e.kubeconfig.filename)}`);
        break;
      }
      case 'contexts': {
        if (!isSeq(v) || !v.items.length) fail(`${where}: expected a list of kubeconfig context names, got ${shown(v)}`);
        e.contexts = v.items.map((c) => {
          const node = c as Node;
          if (isMap(node)) {
            // dstack's long form: {name, proxy_jump}.
            let name = '';
            for (const [k, kNode, kv] of pairs(node)) {
              if (k === 'name') name = str(kv, `${at(kv ?? kNode)}: ${path}.contexts.name`);
              else if (k === 'proxy_jump') fail(`${at(kNode)}: ${path}.contexts.proxy_jump: ${PROXY_JUMP}`);
              else fail(`${at(kNode)}: unknown setting ${JSON.stringify(`${path}.contexts.${k}`)} (known: name)`);
            }
            if (!name) fail(`${at(node)}: ${path}.contexts: name: is required`);
            return name;
          }
          return str(node, `${at(node)}: ${path}.contexts`);
        });
        if (new Set(e.contexts).size !== e.contexts.length) fail(`${where}: a context is listed twice`);
        break;
      }
      case 'namespace': {
        const ns = str(v, where);
        if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(ns))
          fail(`${where}: expected a namespace name (lowercase, digits, -), got ${shown(v)}`);
        e.namespace = ns;
        break;
      }
      case 'pending_timeout': {
        try {
          e.pendingTimeoutMs = parseDuration(isScalar(v) ? v.value : v) * 1000;
        } catch (err) {
          fail(`${where}: ${(err as Error).message}`);
        }
        break;
      }
      case 'price': {
        if (!isScalar(v) || typeof v.value !== 'number' || !(v.value >= 0))
          fail(`${where}: expected dollars per hour (a number ≥ 0), got ${shown(v)}`);
        e.price = v.value as number;
        break;
      }
      case 'proxy_jump':
        fail(`${at(keyNode)}: ${path}.proxy_jump: ${PROXY_JUMP}`);
        break;
      default:
        fail(`${at(keyNode)}: unknown setting ${JSON.stringify(`${path}.${key}`)} (known for kubernetes: ${KNOWN})`);
    }
  }
  if (!sawKubeconfig) fail(`${at(item)}: ${path}: kubeconfig: {filename: ~/.kube/config} is required`);
  return e;
}
