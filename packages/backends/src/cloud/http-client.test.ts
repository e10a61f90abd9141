import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiClient } from './http-client';
import { CloudError, cloudError } from './cloud-error';

let server: Server | undefined;

afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

/** A server answering each request with the next of `answers` (the last one repeats); returns its URL and the requests seen. */
async function serve(answers: { status: number; body?: unknown; headers?: Record<string, string>; hang?: boolean }[]) {
  const seen: string[] = [];
  server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url} ${req.headers.authorization}`);
    const a = answers[Math.min(seen.length - 1, answers.length - 1)];
    if (a.hang) return;
    res.writeHead(a.status, { 'Content-Type': 'application/json', ...a.headers });
    res.end(JSON.stringify(a.body ?? {}));
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}/api/v1`, seen };
}

function client(url: string, timeoutMs = 2000) {
  return new ApiClient({
    provider: 'test',
    baseUrl: url,
    timeoutMs,
    backoffMs: 10,
    headers: () => ({ Authorization: 'Bearer k' }),
    classify: (a) =>
      a.status < 300
        ? undefined
        : cloudError('test', a.status >= 500 || a.status === 429 ? 'provider-down' : 'bad-request', `HTTP ${a.status}`),
    unreachable: (m) => cloudError('test', 'provider-down', m),
  });
}

describe('ApiClient', () => {
  it('retries a 429 (waiting what Retry-After says) and a GET’s 5xx, then answers', async () => {
    const { url, seen } = await serve([
      { status: 429, headers: { 'Retry-After': '0' } },
      { status: 503 },
      { status: 200, body: { data: 1 } },
    ]);
    expect(await client(url).request('GET', '/instances')).toEqual({ data: 1 });
    expect(seen).toEqual(Array(3).fill('GET /api/v1/instances Bearer k'));
  });

  it('never retries a launch on a 5xx (it may have happened), but does on a 429', async () => {
    const five = await serve([{ status: 503 }]);
    await expect(client(five.url).request('POST', '/launch', { body: {} })).rejects.toThrow('test: provider unavailable: HTTP 503');
    expect(five.seen).toHaveLength(1);
    await new Promise<void>((r) => server!.close(() => r()));
    const busy = await serve([{ status: 429 }, { status: 200, body: { ok: true } }]);
    expect(await client(busy.url).request('POST', '/launch', { body: {} })).toEqual({ ok: true });
    expect(busy.seen).toHaveLength(2);
  });

  it('gives up after four attempts, and a request that hangs ends at its deadline as provider-down', async () => {
    const { url, seen } = await serve([{ status: 500 }]);
    const err = await client(url)
      .request('GET', '/x')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CloudError);
    expect(seen).toHaveLength(4);
    await new Promise<void>((r) => server!.close(() => r()));
    const hang = await serve([{ status: 200, hang: true }]);
    const late = await new ApiClient({ ...client(hang.url, 200).opts, attempts: 1 }).request('GET', '/x').catch((e: Error) => e);
    expect((late as Error).message).toBe('test: provider unavailable: no answer within 200 ms');
    server!.closeAllConnections();
  });
});
