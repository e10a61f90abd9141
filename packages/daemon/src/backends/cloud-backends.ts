// The configured GPU clouds as Backends: each entry's key opened (sealed keys with secret.key),
// its API client and Compute made, wrapped in one CloudBackend. Every instance is named
// `dstack-<id>-<run>-0`, the id this home's own (daemon-id, made once), so two users' daemons on one
// account never take each other's instances for orphans.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { InstanceRecord } from '@dstack/backends/backend';
import { CloudBackend } from '@dstack/backends/cloud/cloud-backend';
import type { HostKeyStore } from '@dstack/backends/ssh-client/known-hosts';
import { LambdaApi } from '@dstack/backends/lambda/api';
import { LambdaCompute } from '@dstack/backends/lambda/compute';
import { RunpodApi } from '@dstack/backends/runpod/api';
import { RunpodCompute } from '@dstack/backends/runpod/compute';
import { VastaiApi } from '@dstack/backends/vastai/api';
import { VastaiCompute } from '@dstack/backends/vastai/compute';
import { writeFileAtomic } from '@dstack/core/atomic-write';
import type { Compute } from '@dstack/backends/cloud/compute';
import type { SecretBox } from '../secrets';
import { SEALED_PREFIX, type CloudEntry } from './entries';
import type { KubernetesEntry } from './kubernetes-entry';
import { KubernetesBackend } from '@dstack/backends/kubernetes/kubernetes-backend';
import { KubernetesCompute } from '@dstack/backends/kubernetes/compute';

export interface CloudDeps {
  secrets: SecretBox;
  /** The daemon's private key: its public half goes to each provider. */
  identityFile: string;
  hostKeys: HostKeyStore;
  namePrefix: string;
  log: (message: string) => void;
  /** A backend's instances kept idle after their run and still within their idle_duration. */
  idleInstances: (type: string) => InstanceRecord[];
  /** Tests: faster polls and deadlines. */
  tuning?: { pollMs?: number; bootDeadlineMs?: number; offersTtlMs?: number; offersDeadlineMs?: number };
}

/** This home's id, made once (8 hex digits). */
export function daemonId(file: string): string {
  if (existsSync(file)) {
    const id = readFileSync(file, 'utf8').trim();
    if (/^[0-9a-f]{8}$/.test(id)) return id;
  }
  const id = randomBytes(4).toString('hex');
  writeFileAtomic(file, `${id}\n`, { mode: 0o600 });
  return id;
}

export function instanceNamePrefix(id: string): string {
  return `dstack-${id}-`;
}

/** The entry's key in clear (a sealed one opened). */
export function openApiKey(entry: CloudEntry, secrets: SecretBox): string {
  if (!entry.apiKey.startsWith(SEALED_PREFIX)) return entry.apiKey;
  try {
    return secrets.decrypt(Buffer.from(entry.apiKey.slice(SEALED_PREFIX.length), 'base64'));
  } catch {
    throw new Error(
      `${entry.type}: the sealed api_key does not open with this home's secret.key (add it again: dstack backend add ${entry.type})`,
    );
  }
}

export function sealApiKey(key: string, secrets: SecretBox): string {
  return `${SEALED_PREFIX}${secrets.encrypt(key).toString('base64')}`;
}

export function computeFor(entry: CloudEntry, apiKey: string): Compute {
  switch (entry.type) {
    case 'lambda':
      return new LambdaCompute(new LambdaApi(apiKey, entry.apiUrl ?? undefined), entry.sshUser ?? undefined);
    case 'runpod':
      return new RunpodCompute(new RunpodApi(apiKey, entry.apiUrl ?? undefined), {
        cloudType: entry.communityCloud === false ? 'SECURE' : 'ALL',
        regions: entry.regions,
      });
    case 'vastai':
      return new VastaiCompute(new VastaiApi(apiKey, { baseUrl: entry.apiUrl ?? undefined }));
  }
}

export function cloudBackend(entry: CloudEntry, deps: CloudDeps): CloudBackend {
  return new CloudBackend({
    type: entry.type,
    compute: computeFor(entry, openApiKey(entry, deps.secrets)),
    namePrefix: deps.namePrefix,
    regions: entry.regions,
    identityFile: deps.identityFile,
    agentUrl: entry.agentUrl,
    idleInstances: () => deps.idleInstances(entry.type),
    hostKeys: deps.hostKeys,
    log: deps.log,
    ...deps.tuning,
  });
}

/** A `type: kubernetes` entry: its clusters' pods named and labelled with this home's id. */
export function kubernetesBackend(entry: KubernetesEntry, deps: CloudDeps): KubernetesBackend {
  const homeId = deps.namePrefix.replace(/^dstack-/, '').replace(/-$/, '');
  const compute = new KubernetesCompute({
    kubeconfig: entry.kubeconfig,
    contexts: entry.contexts,
    namespace: entry.namespace,
    homeId,
    pendingTimeoutMs: entry.pendingTimeoutMs,
    price: entry.price,
    log: deps.log,
  });
  return new KubernetesBackend(
    {
      namePrefix: deps.namePrefix,
      identityFile: deps.identityFile,
      hostKeys: deps.hostKeys,
      log: deps.log,
      // A shared cluster's free capacity changes by the minute: offers are kept 15 s, not 3 min.
      offersTtlMs: 15_000,
      ...deps.tuning,
    },
    compute,
  );
}
