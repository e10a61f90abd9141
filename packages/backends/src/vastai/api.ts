// Vast.ai REST API v0, as documented at https://docs.vast.ai/api-reference (the OpenAPI file
// api-reference/openapi.yaml of github.com/vast-ai/docs; base https://console.vast.ai/api/v0,
// `Authorization: Bearer <key>`), with the request shapes Vast's own CLI (github.com/vast-ai/vast-cli,
// vastai/api/offers.py and instances.py) and dstack (src/dstack/_internal/core/backends/vastai/
// api_client.py) send. Only what the backend uses; field names are the API's own.
//
// Errors come as `{"success": false, "error": "<code>", "msg": "<words>"}` with an HTTP status: 401/403
// for a bad key; creating on an offer that is gone answers 404 `"msg": "error 404/3603: no_such_ask
// Instance type by id N is not available."` or 410 `"error": "no_such_ask"`; 400 `invalid_args` /
// `invalid_price`; DELETE of an unknown instance 404 `no_such_instance`; and when hurried 429 with
// `{"detail": "API requests too frequent endpoint threshold=2.0"}` (every endpoint has its own
// threshold). GET /instances/{id}/ answers `{"instances": null}` for an id it does not know.
import { ApiClient, type HttpAnswer } from '../cloud/http-client';
import { cloudError, isCloudError, type CloudErrorKind } from '../cloud/cloud-error';

export const VASTAI_API_URL = 'https://console.vast.ai/api/v0';

/** One condition of a search query: `{"gte": 0.9}`, `{"eq": true}`, `{"in": ["RTX 4090"]}`. */
export interface VastaiFilter {
  eq?: string | number | boolean;
  neq?: string | number | boolean;
  gt?: number;
  gte?: number;
  lt?: number;
  lte?: number;
  in?: (string | number)[];
  notin?: (string | number)[];
}

/**
 * POST /bundles/ (search offers): offer fields with conditions, plus the special keys `type`
 * ("on-demand", "bid" for interruptible, "reserved"), `order` ([[field, "asc" | "desc"]]), `limit` and
 * `allocated_storage` (GB the prices are quoted with).
 */
export interface VastaiSearchQuery {
  [field: string]: VastaiFilter | string | number | [string, 'asc' | 'desc'][] | undefined;
  type?: 'on-demand' | 'bid' | 'reserved';
  order?: [string, 'asc' | 'desc'][];
  limit?: number;
  allocated_storage?: number;
}

/** An offer ("ask"): one machine's free GPUs, rented whole by its id. */
export interface VastaiOffer {
  id: number;
  ask_contract_id?: number;
  machine_id?: number;
  host_id?: number;
  gpu_name: string;
  /** nvidia, amd. */
  gpu_arch?: string;
  num_gpus: number;
  /** Per GPU, in MB. */
  gpu_ram: number;
  gpu_total_ram?: number;
  /** The machine's cores; may be null. */
  cpu_cores?: number | null;
  /** The cores this offer gets. */
  cpu_cores_effective: number;
  /** The machine's RAM in MB (an offer gets its share, as of its cores). */
  cpu_ram: number;
  /** amd64, arm64. */
  cpu_arch?: string;
  cpu_name?: string;
  /** GB free for the instance's disk. */
  disk_space: number;
  /** $/h for the offer with `allocated_storage` GB of disk. */
  dph_total: number;
  dph_base?: number;
  /** $/GB/month. */
  storage_cost?: number;
  /** The lowest bid an interruptible instance may offer ($/h). */
  min_bid: number;
  /** "Washington, US", "Quebec, CA"; may be null. */
  geolocation?: string | null;
  rentable?: boolean;
  rented?: boolean;
  verified?: boolean;
  verification?: string;
  reliability2?: number;
  direct_port_count?: number;
  cuda_max_good?: number;
  static_ip?: boolean;
  score?: number;
}

export interface VastaiSearchResponse {
  offers: VastaiOffer[];
}

/** PUT /asks/{offer_id}/ (create instance). */
export interface VastaiCreateRequest {
  client_id: 'me';
  image: string;
  /** GB. */
  disk: number;
  label: string;
  /** Environment variables, and port mappings as keys: `{"-p 10022:10022": "1"}`. */
  env: Record<string, string>;
  runtype: 'ssh' | 'jupyter' | 'args' | 'ssh_proxy' | 'ssh_direct' | 'jupyter_proxy' | 'jupyter_direct';
  /** With runtype `args`: the program the container runs (dstack sends "/bin/sh"). */
  onstart?: string;
  /** With runtype `args`: its arguments. */
  args?: string[];
  /** The user the container runs as. */
  user?: string;
  /** Interruptible: the bid in $/h (at least the offer's min_bid); absent for on-demand. */
  price?: number;
  /** Fail now (410 no_such_ask) when the instance cannot start right away. */
  cancel_unavail?: boolean;
  image_login?: string | null;
  python_utf8?: boolean;
  lang_utf8?: boolean;
  use_jupyter_lab?: boolean;
  jupyter_dir?: string | null;
  force?: boolean;
}

export interface VastaiCreateResponse {
  success: boolean;
  /** The new instance's id. */
  new_contract: number;
}

/** Docker's port binding, as Vast shows it in `ports`. */
export interface VastaiPortBinding {
  HostIp: string;
  HostPort: string;
}

/**
 * null or loading: pulling the image, starting; running; stopped; frozen; exited: the container
 * ended; created: made but not started (or failed to start, with status_msg); rebooting; unknown: no
 * heartbeat from the host; offline: the host is disconnected.
 */
export type VastaiActualStatus =
  | 'loading'
  | 'created'
  | 'running'
  | 'stopped'
  | 'frozen'
  | 'exited'
  | 'rebooting'
  | 'recycling'
  | 'unknown'
  | 'offline'
  | string;

export interface VastaiInstance {
  id: number;
  label?: string | null;
  /** The container's state now. */
  actual_status: VastaiActualStatus | null;
  /** What its owner asked for: running, stopped, frozen. */
  intended_status?: string | null;
  /** The contract's hold on the machine: running, stopped, unloaded (released on destroy). */
  cur_state?: string | null;
  next_state?: string | null;
  /** Words about the current state (a pull, an error from the host's docker). */
  status_msg?: string | null;
  public_ipaddr?: string | null;
  /** `{"10022/tcp": [{"HostIp": "0.0.0.0", "HostPort": "41234"}]}` once the container runs. */
  ports?: Record<string, VastaiPortBinding[] | null> | null;
  ssh_host?: string | null;
  ssh_port?: number | null;
  image_uuid?: string | null;
  machine_id?: number;
  /** Seconds since the epoch. */
  start_date?: number | null;
  dph_total?: number;
  /** An interruptible (bid) instance. */
  is_bid?: boolean;
  min_bid?: number;
  gpu_name?: string;
  num_gpus?: number;
  geolocation?: string | null;
}

/** GET /instances/ (v0). */
export interface VastaiInstancesResponse {
  instances_found?: number;
  instances: VastaiInstance[];
}

/** GET /api/v1/instances/: 25 a page, `next_token` while more remain. */
export interface VastaiInstancesV1Response {
  instances: VastaiInstance[];
  next_token?: string | null;
}

/** GET /instances/{id}/: the instance, or null when the account has no such instance. */
export interface VastaiInstanceResponse {
  instances: VastaiInstance | null;
}

export interface VastaiUser {
  id: number;
  email?: string;
  balance?: number;
  credit?: number;
}

export interface VastaiErrorBody {
  success?: boolean;
  error?: string;
  msg?: string;
  /** 429's body: "API requests too frequent endpoint threshold=2.0". */
  detail?: string;
  ask_id?: number;
}

function kindOf(status: number, code: string, words: string): CloudErrorKind {
  const text = `${code} ${words}`;
  // The offer was rented by someone else, left the market, or cannot start now; an interruptible bid
  // under the machine's minimum (invalid_price) means the minimum rose since the search.
  if (/no_such_ask|invalid_price/i.test(text) || /(?:no longer|not) available/i.test(words)) return 'no-capacity';
  if (status === 401 || status === 403) return 'credentials';
  if (/insufficient[_ ](?:credit|funds|balance)|out of credit/i.test(text)) return 'quota';
  if (status === 404 || /no_such_instance/i.test(code)) return 'not-found';
  if (status === 429 || status >= 500) return 'provider-down';
  return 'bad-request';
}

export function classifyVastai(a: HttpAnswer): Error | undefined {
  const body = (a.body && typeof a.body === 'object' ? a.body : undefined) as VastaiErrorBody | undefined;
  const ok = a.status >= 200 && a.status < 300;
  // A 2xx with `"success": false` is a refusal too (dstack's client checks the same).
  if (ok && body?.success !== false) return undefined;
  const code = body?.error ?? '';
  const words = body?.msg ?? body?.detail ?? '';
  const message =
    words || code
      ? `${words || code}${code && words && !words.includes(code) ? ` (${code})` : ''}`
      : `HTTP ${a.status} ${String(a.body ?? '').slice(0, 200)}`;
  return cloudError('vastai', kindOf(ok ? 400 : a.status, code, words), message, a.status);
}

export interface VastaiApiOptions {
  baseUrl?: string;
  timeoutMs?: number;
  /** Attempts for a retryable failure (429 above all: Vast.ai limits each endpoint's rate). */
  attempts?: number;
  backoffMs?: number;
}

export class VastaiApi {
  private readonly http: ApiClient;

  constructor(apiKey: string, opts: VastaiApiOptions = {}) {
    this.http = new ApiClient({
      provider: 'vastai',
      baseUrl: opts.baseUrl ?? VASTAI_API_URL,
      timeoutMs: opts.timeoutMs ?? 20_000,
      attempts: opts.attempts ?? 6,
      backoffMs: opts.backoffMs ?? 500,
      headers: () => ({ Authorization: `Bearer ${apiKey}` }),
      classify: classifyVastai,
      unreachable: (m) => cloudError('vastai', 'provider-down', m),
    });
  }

  /** POST /bundles/: a search changes nothing, so it is retried like a GET. */
  async searchOffers(query: VastaiSearchQuery): Promise<VastaiOffer[]> {
    return (await this.http.request<VastaiSearchResponse>('POST', '/bundles/', { body: query, idempotent: true })).offers ?? [];
  }

  /** PUT /asks/{offer}/: rents the offer; the new instance's id. */
  async createInstance(offerId: string | number, req: VastaiCreateRequest): Promise<VastaiCreateResponse> {
    return this.http.request<VastaiCreateResponse>('PUT', `/asks/${encodeURIComponent(String(offerId))}/`, { body: req });
  }

  /**
   * Every instance of the account: GET /instances/, or, where Vast.ai answers 410 (v0's list is
   * deprecated for accounts made after June 2026), the pages of GET /api/v1/instances/ as its CLI reads
   * them (vast-cli vastai/api/instances.py show_instances).
   */
  async instances(): Promise<VastaiInstance[]> {
    try {
      return (await this.http.request<VastaiInstancesResponse>('GET', '/instances/')).instances ?? [];
    } catch (err) {
      if (!(isCloudError(err) && err.status === 410)) throw err;
    }
    const rows: VastaiInstance[] = [];
    let after: string | undefined;
    for (let page = 0; page < 1000; page++) {
      const q = new URLSearchParams({
        select_filters: '{}',
        order_by: JSON.stringify([{ col: 'id', dir: 'asc' }]),
        limit: '25',
        ...(after ? { after_token: after } : {}),
      });
      const res = await this.http.request<VastaiInstancesV1Response>('GET', `../v1/instances/?${q}`);
      rows.push(...(res.instances ?? []));
      if (!res.next_token) break;
      after = res.next_token;
    }
    return rows;
  }

  /** GET /instances/{id}/: null when the account has no such instance. */
  async instance(id: string | number): Promise<VastaiInstance | null> {
    return (
      (await this.http.request<VastaiInstanceResponse>('GET', `/instances/${encodeURIComponent(String(id))}/?owner=me`)).instances ?? null
    );
  }

  /** DELETE /instances/{id}/: ends it and its billing for good; 404 no_such_instance when gone. */
  async destroyInstance(id: string | number): Promise<void> {
    // Destroying twice is harmless: a lost answer may be asked again.
    await this.http.request<{ success: boolean }>('DELETE', `/instances/${encodeURIComponent(String(id))}/`, { idempotent: true });
  }

  /** GET /users/current/: the key's account (a cheap check of the key). */
  async currentUser(): Promise<VastaiUser> {
    return this.http.request<VastaiUser>('GET', '/users/current/');
  }
}
