// Lambda Cloud API v1, as documented at https://docs-api.lambda.ai/api/cloud (base
// https://cloud.lambda.ai/api/v1, `Authorization: Bearer <key>`). Only what the backend uses; field
// names are the API's own. Errors come as `{"error": {"code", "message", "suggestion"}}` with an HTTP
// status: 401/403 for a bad key, 400 `instance-operations/launch/insufficient-capacity`, 400
// `global/quota-exceeded`, 404 `global/object-does-not-exist`, 429 when hurried.
import { ApiClient, type HttpAnswer } from '../cloud/http-client';
import { cloudError, type CloudErrorKind } from '../cloud/cloud-error';

export const LAMBDA_API_URL = 'https://cloud.lambda.ai/api/v1';

export interface LambdaRegion {
  name: string;
  description: string;
}

export interface LambdaInstanceTypeSpecs {
  vcpus: number;
  memory_gib: number;
  storage_gib: number;
  gpus: number;
}

export interface LambdaInstanceType {
  name: string;
  description: string;
  /** "A10 (24 GB PCIe)"; absent or empty for CPU-only types. */
  gpu_description?: string;
  price_cents_per_hour: number;
  specs: LambdaInstanceTypeSpecs;
}

/** GET /instance-types: `data` keyed by type name. */
export interface LambdaInstanceTypesResponse {
  data: Record<string, { instance_type: LambdaInstanceType; regions_with_capacity_available: LambdaRegion[] }>;
}

export type LambdaInstanceStatus = 'booting' | 'active' | 'unhealthy' | 'terminating' | 'terminated' | 'preempted';

export interface LambdaInstance {
  id: string;
  name?: string | null;
  ip?: string | null;
  private_ip?: string | null;
  status: LambdaInstanceStatus;
  ssh_key_names: string[];
  region: LambdaRegion;
  instance_type: LambdaInstanceType;
  hostname?: string | null;
}

export interface LambdaLaunchRequest {
  region_name: string;
  instance_type_name: string;
  ssh_key_names: string[];
  file_system_names?: string[];
  quantity?: number;
  name?: string;
}

/**
 * A persistent filesystem (Lambda Cloud API v1, https://docs-api.lambda.ai/api/cloud: "Filesystem"):
 * regional, mounted on every instance launched with its name at `mount_point` (/lambda/nfs/NAME).
 */
export interface LambdaFileSystem {
  id: string;
  name: string;
  mount_point: string;
  created?: string;
  is_in_use: boolean;
  region: LambdaRegion;
  bytes_used?: number;
}

export interface LambdaSshKey {
  id: string;
  name: string;
  public_key: string;
}

export interface LambdaErrorBody {
  error: { code: string; message: string; suggestion?: string };
}

function kindOf(status: number, code: string): CloudErrorKind {
  if (status === 401 || status === 403 || code === 'global/invalid-api-key' || code === 'global/account-inactive') return 'credentials';
  if (code.endsWith('insufficient-capacity')) return 'no-capacity';
  if (code === 'global/quota-exceeded') return 'quota';
  if (status === 404 || code === 'global/object-does-not-exist') return 'not-found';
  if (status === 429 || status >= 500) return 'provider-down';
  return 'bad-request';
}

export function classifyLambda(a: HttpAnswer): Error | undefined {
  if (a.status >= 200 && a.status < 300) return undefined;
  const e = (a.body as Partial<LambdaErrorBody> | undefined)?.error;
  const message = e
    ? `${e.message}${e.suggestion ? ` ${e.suggestion}` : ''} (${e.code})`
    : `HTTP ${a.status} ${String(a.body ?? '').slice(0, 200)}`;
  return cloudError('lambda', kindOf(a.status, e?.code ?? ''), message, a.status);
}

export class LambdaApi {
  private readonly http: ApiClient;

  constructor(apiKey: string, baseUrl = LAMBDA_API_URL, timeoutMs = 20_000) {
    this.http = new ApiClient({
      provider: 'lambda',
      baseUrl,
      timeoutMs,
      headers: () => ({ Authorization: `Bearer ${apiKey}` }),
      classify: classifyLambda,
      unreachable: (m) => cloudError('lambda', 'provider-down', m),
    });
  }

  async instanceTypes(): Promise<LambdaInstanceTypesResponse['data']> {
    return (await this.http.request<LambdaInstanceTypesResponse>('GET', '/instance-types')).data;
  }

  async instances(): Promise<LambdaInstance[]> {
    return (await this.http.request<{ data: LambdaInstance[] }>('GET', '/instances')).data;
  }

  async instance(id: string): Promise<LambdaInstance> {
    return (await this.http.request<{ data: LambdaInstance }>('GET', `/instances/${encodeURIComponent(id)}`)).data;
  }

  async launch(req: LambdaLaunchRequest): Promise<string[]> {
    return (await this.http.request<{ data: { instance_ids: string[] } }>('POST', '/instance-operations/launch', { body: req })).data
      .instance_ids;
  }

  async terminate(ids: string[]): Promise<LambdaInstance[]> {
    const res = await this.http.request<{ data: { terminated_instances: LambdaInstance[] } }>('POST', '/instance-operations/terminate', {
      body: { instance_ids: ids },
      // Terminating twice is harmless: a lost answer may be asked again.
      idempotent: true,
    });
    return res.data.terminated_instances;
  }

  /** GET /file-systems: the account's filesystems. */
  async fileSystems(): Promise<LambdaFileSystem[]> {
    return (await this.http.request<{ data: LambdaFileSystem[] }>('GET', '/file-systems')).data;
  }

  /** POST /filesystems {name, region}. */
  async createFileSystem(name: string, region: string): Promise<LambdaFileSystem> {
    return (await this.http.request<{ data: LambdaFileSystem }>('POST', '/filesystems', { body: { name, region } })).data;
  }

  /** DELETE /filesystems/{id}; refused (filesystem/in-use) while an instance has it. */
  async deleteFileSystem(id: string): Promise<void> {
    await this.http.request<{ data: { deleted_ids: string[] } }>('DELETE', `/filesystems/${encodeURIComponent(id)}`, { idempotent: true });
  }

  async sshKeys(): Promise<LambdaSshKey[]> {
    return (await this.http.request<{ data: LambdaSshKey[] }>('GET', '/ssh-keys')).data;
  }

  async addSshKey(name: string, publicKey: string): Promise<LambdaSshKey> {
    return (await this.http.request<{ data: LambdaSshKey }>('POST', '/ssh-keys', { body: { name, public_key: publicKey } })).data;
  }
}
