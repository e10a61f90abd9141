// The IDE server's download (job/ide.ts): https only, at every redirect too (a redirect to http, or
// to anything but https, is refused before it is followed), at most a size cap, into a file, its
// sha256 computed on the way and compared with the one the vendor publishes where there is one.
// Nothing is unpacked until the whole file is in and checked.
import { createHash } from 'node:crypto';
import { createWriteStream, rmSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';

/** A VS Code server is about 60 MiB; this leaves room for the others and for growth. */
export const IDE_DOWNLOAD_MAX_BYTES = 512 * 1024 * 1024;
/** The update API's answer is under a kilobyte. */
const META_MAX_BYTES = 64 * 1024;
const TIMEOUT_MS = 60_000;

/** node:https's get, or a stand-in (tests). */
export type HttpsGet = (
  url: string,
  opts: { timeout: number },
  cb: (res: IncomingMessage) => void,
) => { on(ev: string, f: (e: Error) => void): unknown; destroy(e?: Error): void };

export interface FetchOptions {
  get?: HttpsGet;
  signal?: AbortSignal;
}

/** The URL when it is https; otherwise an error saying so (`what`: where the URL came from). */
export function requireHttps(url: string, what: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`${what} ${JSON.stringify(url)} is not a URL`);
  }
  if (u.protocol !== 'https:') throw new Error(`${what} ${u.href}: only https is fetched`);
  return u;
}

/** GET over https, following up to 5 redirects, each of them to https only; the response of a 200. */
export function fetchHttps(url: string, opts: FetchOptions = {}, redirects = 5, what = 'URL'): Promise<IncomingMessage> {
  const get = opts.get ?? (httpsGet as unknown as HttpsGet);
  return new Promise((resolve, reject) => {
    const href = requireHttps(url, what).href;
    if (opts.signal?.aborted) return reject(new Error('aborted'));
    const req = get(href, { timeout: TIMEOUT_MS }, (res) => {
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (status >= 300 && status < 400 && location) {
        res.resume();
        if (redirects <= 0) return reject(new Error(`too many redirects from ${href}`));
        let next: string;
        try {
          next = new URL(location, href).href;
        } catch {
          return reject(new Error(`${href} redirects to ${JSON.stringify(location)}, which is not a URL`));
        }
        resolve(fetchHttps(next, opts, redirects - 1, `the redirect from ${href} to`));
      } else if (status !== 200) {
        res.resume();
        reject(new Error(`HTTP ${status} from ${href}`));
      } else resolve(res);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${href} in ${TIMEOUT_MS / 1000} s`)));
    req.on('error', reject);
    opts.signal?.addEventListener('abort', () => req.destroy(new Error('aborted')), { once: true });
  });
}

/** Counts and hashes what passes; fails once more than `maxBytes` have. */
class Meter extends Transform {
  bytes = 0;
  private readonly hash = createHash('sha256');

  constructor(
    private readonly maxBytes: number,
    private readonly what: string,
    private readonly onBytes: (n: number) => void,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null, data?: Buffer) => void): void {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) {
      cb(new Error(`${this.what} is over the ${mib(this.maxBytes)} limit`));
      return;
    }
    this.hash.update(chunk);
    this.onBytes(this.bytes);
    cb(null, chunk);
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}

export const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;

export interface DownloadOptions extends FetchOptions {
  maxBytes?: number;
  /** The sha256 (hex) the file must have; none: only https and the cap are checked. */
  sha256?: string;
  /** Bytes so far, and the total when the server said. */
  onProgress?: (done: number, total: number) => void;
  /**
   * Undo a `Content-Encoding: gzip` (the VS Code Marketplace sends its VSIX files so): the cap and
   * the hash are then of the decoded bytes. Without it such a file is kept as it came.
   */
  gunzip?: boolean;
}

/** Downloads `url` into `file` (mode 0600); removes it and throws on any failure, a wrong sha256 included. */
export async function downloadChecked(url: string, file: string, opts: DownloadOptions = {}): Promise<{ bytes: number; sha256: string }> {
  const maxBytes = opts.maxBytes ?? IDE_DOWNLOAD_MAX_BYTES;
  try {
    const res = await fetchHttps(url, opts);
    const gzipped = opts.gunzip === true && String(res.headers['content-encoding'] ?? '').toLowerCase() === 'gzip';
    // A gzipped body's length says nothing of the file's.
    const total = gzipped ? 0 : Number(res.headers['content-length'] ?? 0);
    if (total > maxBytes) {
      res.destroy();
      throw new Error(`${url} is ${mib(total)}, over the ${mib(maxBytes)} limit`);
    }
    const meter = new Meter(maxBytes, url, (n) => opts.onProgress?.(n, total));
    const onAbort = () => res.destroy(new Error('aborted'));
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (gzipped) await pipeline(res, createGunzip(), meter, createWriteStream(file, { mode: 0o600 }));
      else await pipeline(res, meter, createWriteStream(file, { mode: 0o600 }));
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
    }
    const sha256 = meter.digest();
    if (opts.sha256 && sha256 !== opts.sha256.toLowerCase())
      throw new Error(`${url}: its sha256 is ${sha256}, the published one ${opts.sha256}`);
    return { bytes: meter.bytes, sha256 };
  } catch (err) {
    rmSync(file, { force: true });
    throw err;
  }
}

/** A small JSON document over https (an update API's answer). */
export async function fetchJson(url: string, opts: FetchOptions = {}): Promise<unknown> {
  const res = await fetchHttps(url, opts);
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes > META_MAX_BYTES) {
      res.destroy();
      throw new Error(`${url}: the answer is over ${META_MAX_BYTES / 1024} KiB`);
    }
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new Error(`${url}: the answer is not JSON`);
  }
}

/** The `sha256hash` of a VS Code update API answer (`/api/versions/commit:C/server-linux-A/stable`). */
export async function publishedSha256(url: string, opts: FetchOptions = {}): Promise<string> {
  const doc = await fetchJson(url, opts);
  const sha = doc && typeof doc === 'object' ? (doc as { sha256hash?: unknown }).sha256hash : undefined;
  if (typeof sha !== 'string' || !/^[0-9a-fA-F]{64}$/.test(sha)) throw new Error(`${url}: no sha256hash in the answer`);
  return sha.toLowerCase();
}
