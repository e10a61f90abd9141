// `dstack backend list|add|remove`: the `backends:` entries of config.yml, each checked with its
// provider on request. add checks the key before anything is written, seals it, and starts using
// the backend at once (no daemon restart); remove refuses while a run is on the backend. A backend
// whose entry cannot be used (a sealed key from another home) is listed with why, and the others
// keep working.
import { existsSync, readFileSync } from 'node:fs';
import { isMap, isSeq, parseDocument, type YAMLMap, type YAMLSeq } from 'yaml';
import type { Backend } from '@dstack/backends/backend';
import { CloudBackend } from '@dstack/backends/cloud/cloud-backend';
import { withDeadline } from '@dstack/backends/cloud/deadline';
import { writeFileAtomic } from '@dstack/core/atomic-write';
import type { AddBackendRequest, BackendInfo, ListBackendsRequest, RemoveBackendRequest } from '@dstack/core/gen/daemon';
import { BadRequestError, NotFoundError, PreconditionError } from '@dstack/core/grpc';
import { parseConfig } from '../config';
import type { Logger } from '../logger';
import type { InstancesStore } from '../state/instances-store';
import type { RunsStore } from '../state/runs-store';
import { cloudBackend, computeFor, kubernetesBackend, sealApiKey, type CloudDeps } from './cloud-backends';
import { CLOUD_TYPES, type CloudType } from '@dstack/core/cloud-types';
import { checkAgentUrl, checkApiUrl, SEALED_PREFIX, type BackendEntry, type CloudEntry } from './entries';
import { SlurmBackend } from '@dstack/backends/slurm/backend';
import { slurmBackend } from './slurm-entry';

export interface BackendServiceDeps {
  configFile: string;
  entries: BackendEntry[];
  /** The daemon's live list: cloud backends are added and removed in it. */
  backends: Backend[];
  cloud: CloudDeps;
  runs: RunsStore;
  instances: InstancesStore;
  log: Logger;
}

const CHECK_TIMEOUT_MS = 20_000;

export class BackendService {
  private entries: BackendEntry[];
  /** Why an entry could not be made into a backend, by type. */
  private readonly broken = new Map<string, string>();

  constructor(private readonly d: BackendServiceDeps) {
    this.entries = [...d.entries];
    for (const e of this.entries) this.use(e);
  }

  /** The cloud backends in use now. */
  clouds(): (CloudBackend | SlurmBackend)[] {
    return this.d.backends.filter((b): b is CloudBackend | SlurmBackend => b instanceof CloudBackend || b instanceof SlurmBackend);
  }

  private use(e: BackendEntry): void {
    this.drop(e.type);
    try {
      this.d.backends.push(
        e.type === 'kubernetes'
          ? kubernetesBackend(e, this.d.cloud)
          : e.type === 'slurm'
            ? slurmBackend(e, this.d.cloud)
            : cloudBackend(e, this.d.cloud),
      );
      this.broken.delete(e.type);
    } catch (err) {
      this.broken.set(e.type, (err as Error).message);
      this.d.log.warn(`backend ${e.type} left out`, { error: (err as Error).message });
    }
  }

  private drop(type: string): void {
    const i = this.d.backends.findIndex((b) => b.type === type);
    if (i >= 0) this.d.backends.splice(i, 1);
  }

  async list(req: ListBackendsRequest): Promise<{ backends: BackendInfo[] }> {
    return { backends: await Promise.all(this.entries.map((e) => this.info(e, req.check))) };
  }

  private async info(e: BackendEntry, check: boolean): Promise<BackendInfo> {
    const live = this.d.instances.list().filter((i) => i.record.backend === e.type && !['terminated', 'failed'].includes(i.status));
    const base: BackendInfo = {
      type: e.type,
      regions: e.type === 'kubernetes' ? (e.contexts ?? []) : e.type === 'slurm' ? e.clusters.map((c) => c.name) : (e.regions ?? []),
      apiUrl: e.type === 'kubernetes' || e.type === 'slurm' ? '' : (e.apiUrl ?? ''),
      status: 'unchecked',
      message: '',
      keyInClear: e.type !== 'kubernetes' && e.type !== 'slurm' && !e.apiKey.startsWith(SEALED_PREFIX),
      instances: live.length,
      pricePerHour: live.reduce((sum, i) => sum + i.record.price, 0),
    };
    const broken = this.broken.get(e.type);
    if (broken) return { ...base, status: 'error', message: broken };
    if (!check) return base;
    const backend = this.clouds().find((b) => b.type === e.type);
    try {
      await withDeadline(backend!.check(), CHECK_TIMEOUT_MS, `${e.type}: no answer within ${CHECK_TIMEOUT_MS / 1000}s`);
      // A cluster says what it has free now, of its total.
      const cluster: Backend | undefined = backend;
      if (cluster?.describe) return { ...base, status: 'ok', message: await cluster.describe() };
      return { ...base, status: 'ok' };
    } catch (err) {
      return { ...base, status: 'error', message: (err as Error).message };
    }
  }

  async add(req: AddBackendRequest): Promise<BackendInfo> {
    const type = req.type.trim();
    if (type === 'kubernetes')
      throw new BadRequestError(
        'kubernetes: add its entry to $DSTACK_HOME/config.yml (type: kubernetes, kubeconfig: {filename: ~/.kube/config}) and restart the daemon',
      );
    if (!(CLOUD_TYPES as readonly string[]).includes(type)) {
      throw new BadRequestError(`backend type ${JSON.stringify(type)} is not supported (supported: ${CLOUD_TYPES.join(', ')})`);
    }
    const apiKey = req.apiKey.trim();
    if (!apiKey) throw new BadRequestError(`${type}: an API key is required`);
    const apiUrl = req.apiUrl.trim() || null;
    const badUrl = apiUrl ? checkApiUrl(apiUrl) : undefined;
    if (badUrl) throw new BadRequestError(`--api-url: ${badUrl}, got ${JSON.stringify(apiUrl)}`);
    const agentUrl = req.agentUrl.trim() || null;
    const badAgentUrl = agentUrl ? checkAgentUrl(agentUrl) : undefined;
    if (badAgentUrl) throw new BadRequestError(`--agent-url: ${badAgentUrl}, got ${JSON.stringify(agentUrl)}`);
    const regions = req.regions.map((r) => r.trim()).filter(Boolean);
    const entry: CloudEntry = {
      type: type as CloudType,
      apiKey,
      regions: regions.length ? regions : null,
      apiUrl,
      sshUser: req.sshUser.trim() || null,
      agentUrl,
      communityCloud: null,
    };
    if (entry.sshUser && type !== 'lambda')
      throw new BadRequestError(`--ssh-user: a ${type} instance is its container, reached as root (--ssh-user is for lambda)`);
    // Nothing is written until the provider accepts the key.
    try {
      await withDeadline(computeFor(entry, apiKey).check(), CHECK_TIMEOUT_MS, `${type}: no answer within ${CHECK_TIMEOUT_MS / 1000}s`);
    } catch (err) {
      throw new BadRequestError(`${(err as Error).message}; nothing was saved`);
    }
    const sealed: CloudEntry = { ...entry, apiKey: sealApiKey(apiKey, this.d.cloud.secrets) };
    this.edit((seq, doc) => {
      const node = doc.createNode({
        type,
        creds: { type: 'api_key', api_key: sealed.apiKey },
        ...(sealed.regions ? { regions: sealed.regions } : {}),
        ...(sealed.apiUrl ? { api_url: sealed.apiUrl } : {}),
        ...(sealed.sshUser ? { ssh_user: sealed.sshUser } : {}),
        ...(sealed.agentUrl ? { agent_url: sealed.agentUrl } : {}),
      });
      const at = seq.items.findIndex((i) => isMap(i) && (i as YAMLMap).get('type') === type);
      if (at >= 0) seq.items[at] = node;
      else seq.items.push(node);
    });
    this.entries = [...this.entries.filter((e) => e.type !== type), sealed];
    this.use(sealed);
    this.d.log.info(`backend ${type} added`, { regions: regions.join(',') || 'all', api_url: apiUrl ?? 'default' });
    return { ...(await this.info(sealed, false)), status: 'ok' };
  }

  remove(req: RemoveBackendRequest): Record<string, never> {
    const type = req.type.trim();
    if (!this.entries.some((e) => e.type === type)) {
      throw new NotFoundError(
        `no backend ${JSON.stringify(type)} is configured (configured: ${this.entries.map((e) => e.type).join(', ') || 'none'})`,
      );
    }
    const busy = this.d.runs.unfinished().filter((r) => r.backend === type);
    if (busy.length) {
      throw new PreconditionError(`${type} has runs on it (${busy.map((r) => r.name).join(', ')}): stop them first (dstack stop NAME)`);
    }
    this.edit((seq) => {
      seq.items = seq.items.filter((i) => !(isMap(i) && (i as YAMLMap).get('type') === type));
    });
    this.entries = this.entries.filter((e) => e.type !== type);
    this.drop(type);
    this.broken.delete(type);
    this.d.log.info(`backend ${type} removed`);
    return {};
  }

  /** Edits `backends:` in config.yml, keeping the rest of the file (comments included); written 0600. */
  private edit(fn: (seq: YAMLSeq, doc: ReturnType<typeof parseDocument>) => void): void {
    const file = this.d.configFile;
    const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
    const doc = parseDocument(text);
    if (!isMap(doc.contents)) doc.contents = doc.createNode({}) as never;
    let seq = doc.get('backends');
    if (!isSeq(seq)) {
      seq = doc.createNode([]);
      doc.set('backends', seq);
    }
    fn(seq as YAMLSeq, doc);
    if (!(seq as YAMLSeq).items.length) doc.delete('backends');
    const out = doc.toString();
    parseConfig(file, out); // never write a file the next start would refuse
    writeFileAtomic(file, out, { mode: 0o600 });
  }
}
