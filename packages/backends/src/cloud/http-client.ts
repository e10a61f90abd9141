// JSON over HTTPS to a provider's API: a deadline per request, retries with backoff where a retry is
// safe, and every failure turned into a CloudError by the provider's own classifier. A request that
// changes something (launch) is retried only when the provider certainly did not act on it (429, a
// refused connection): after an ambiguous failure the caller looks the instance up by name instead.

export interface HttpAnswer {
  status: number;
  /** The parsed JSON body, or the text when it is not JSON. */
  body: unknown;
  headers: Headers;
}

export interface ApiClientOptions {
  provider: string;
  baseUrl: string;
  /** Headers on every request (Authorization). */
  headers: () => Record<string, string>;
  /** The provider's error from an answer, or undefined when the answer is a success (RunPod errors in a 200). */
  classify: (answer: HttpAnswer) => Error | undefined;
  /** Turns a transport failure (timeout, refused) into the provider's error. */
  unreachable: (message: string) => Error;
  timeoutMs?: number;
  /** Attempts in all for a retryable failure (default 4). */
  attempts?: number;
  /** First backoff (doubled each time, capped at 8 s); Retry-After wins when the provider sends one. */
  backoffMs?: number;
}

export interface RequestOptions {
  body?: unknown;
  /** The request changes nothing (GET, a query): retried on 5xx and timeouts too. */
  idempotent?: boolean;
  timeoutMs?: number;
}

const MAX_BACKOFF_MS = 8000;

export class ApiClient {
  constructor(readonly opts: ApiClientOptions) {}

  async request<T>(method: string, path: string, ro: RequestOptions = {}): Promise<T> {
    const idempotent = ro.idempotent ?? method === 'GET';
    const attempts = this.opts.attempts ?? 4;
    let delay = this.opts.backoffMs ?? 500;
    for (let attempt = 1; ; attempt++) {
      let answer: HttpAnswer | undefined;
      let failure: Error;
      let retryable: boolean;
      let retryAfterMs: number | undefined;
      try {
        answer = await this.once(method, path, ro);
        const err = this.opts.classify(answer);
        if (!err) return answer.body as T;
        failure = err;
        retryable = answer.status === 429 || (idempotent && answer.status >= 500);
        retryAfterMs = retryAfter(answer.headers);
      } catch (err) {
        const e = err as Error & { cause?: { code?: string } };
        const refused = e.cause?.code === 'ECONNREFUSED';
        const timedOut = e.name === 'TimeoutError' || e.name === 'AbortError';
        failure = this.opts.unreachable(
          timedOut ? `no answer within ${seconds(ro.timeoutMs ?? this.opts.timeoutMs ?? 20_000)}` : (e.cause?.code ?? e.message),
        );
        retryable = refused || idempotent;
      }
      if (!retryable || attempt >= attempts) throw failure;
      await new Promise((r) => setTimeout(r, Math.min(MAX_BACKOFF_MS, retryAfterMs ?? delay)));
      delay *= 2;
    }
  }

  private async once(method: string, path: string, ro: RequestOptions): Promise<HttpAnswer> {
    const res = await fetch(new URL(path.replace(/^\//, ''), `${this.opts.baseUrl.replace(/\/?$/, '/')}`), {
      method,
      headers: {
        Accept: 'application/json',
        ...(ro.body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        ...this.opts.headers(),
      },
      body: ro.body !== undefined ? JSON.stringify(ro.body) : undefined,
      signal: AbortSignal.timeout(ro.timeoutMs ?? this.opts.timeoutMs ?? 20_000),
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: a proxy's error page; the classifier shows its text
    }
    return { status: res.status, body, headers: res.headers };
  }
}

/** Retry-After in seconds or as an HTTP date, in ms. */
function retryAfter(headers: Headers): number | undefined {
  const v = headers.get('retry-after');
  if (!v) return undefined;
  const s = Number(v);
  if (Number.isFinite(s)) return Math.max(0, s * 1000);
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

function seconds(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Math.round(ms / 1000)}s`;
}
