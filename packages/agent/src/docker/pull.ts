// Image pull with registry auth and progress summed across layers, and the errors a user can act
// on: `registry auth failed for IMAGE`, `image IMAGE not found`.
import type { IncomingMessage } from 'node:http';
import type { PullProgress, RegistryAuth } from '@dstack/core/gen/agent';
import { DockerError, type DockerEngine } from './engine';

export class PullError extends Error {
  constructor(
    readonly reason: 'registry_auth_error' | 'image_pull_error',
    message: string,
  ) {
    super(message);
    this.name = 'PullError';
  }
}

/** The registry host of an image reference, as Docker's auth config names it. */
export function registryOf(image: string): string {
  const first = image.split('/')[0];
  const isHost = image.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  return isHost ? first : 'https://index.docker.io/v1/';
}

/** Docker wants the auth config as base64url JSON in X-Registry-Auth. */
export function registryAuthHeader(image: string, auth: RegistryAuth): string {
  const json = JSON.stringify({ username: auth.username, password: auth.password, serveraddress: registryOf(image) });
  return Buffer.from(json).toString('base64url');
}

export function classifyPullError(image: string, message: string, withAuth: boolean): PullError {
  if (/unauthorized|authentication required|no basic auth credentials|incorrect username or password|\b401\b/i.test(message)) {
    return new PullError(
      'registry_auth_error',
      withAuth
        ? `registry auth failed for ${image}: check registry_auth username and password`
        : `registry auth failed for ${image}: the registry needs credentials (set registry_auth)`,
    );
  }
  if (
    /manifest unknown|not found|does not exist|repository name not known|pull access denied|no such host|invalid reference format/i.test(
      message,
    )
  ) {
    return new PullError('image_pull_error', `image ${image} not found${withAuth ? '' : ' (or it is private: set registry_auth)'}`);
  }
  return new PullError('image_pull_error', `cannot pull image ${image}: ${message}`);
}

interface PullMessage {
  status?: string;
  id?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
  errorDetail?: { message?: string };
}

/** Sums per-layer progress into one current/total pair. */
export class PullTracker {
  private readonly layers = new Map<string, { current: number; total: number }>();
  status = 'pulling';

  update(m: PullMessage): void {
    if (m.status) this.status = m.status;
    if (!m.id || !/^[0-9a-f]{12}$/.test(m.id)) return;
    const layer = this.layers.get(m.id) ?? { current: 0, total: 0 };
    const d = m.progressDetail ?? {};
    if (m.status === 'Downloading' && d.total) {
      layer.total = d.total;
      layer.current = d.current ?? layer.current;
    } else if (m.status && /^(Download complete|Pull complete|Already exists|Verifying Checksum)$/.test(m.status)) {
      layer.current = layer.total;
    }
    this.layers.set(m.id, layer);
  }

  progress(): PullProgress {
    let current = 0;
    let total = 0;
    for (const l of this.layers.values()) {
      current += l.current;
      total += l.total;
    }
    return { current, total, status: this.status };
  }
}

async function* jsonLines(res: IncomingMessage): AsyncGenerator<PullMessage> {
  let buf = '';
  for await (const chunk of res) {
    buf += (chunk as Buffer).toString('utf8');
    let nl: number;
    while ((nl = buf.indexOf('\n')) !== -1) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line) yield JSON.parse(line) as PullMessage;
    }
  }
  if (buf.trim()) yield JSON.parse(buf) as PullMessage;
}

export async function imageExists(engine: DockerEngine, image: string): Promise<boolean> {
  try {
    await engine.json('GET', `/images/${encodeURIComponent(image)}/json`);
    return true;
  } catch (err) {
    if (err instanceof DockerError && err.statusCode === 404) return false;
    throw err;
  }
}

/**
 * Pulls `image`, calling onProgress with the sum over layers at most every `everyMs`.
 * Rejects with a PullError that says what went wrong in words a user can act on.
 */
export async function pullImage(
  engine: DockerEngine,
  image: string,
  auth: RegistryAuth | undefined,
  onProgress: (p: PullProgress) => void,
  signal?: AbortSignal,
  everyMs = 250,
): Promise<void> {
  const withAuth = !!auth?.username;
  const headers: Record<string, string> = withAuth ? { 'X-Registry-Auth': registryAuthHeader(image, auth!) } : {};
  let res: IncomingMessage;
  if (signal?.aborted) throw new Error('pull aborted');
  try {
    res = await engine.stream('POST', `/images/create?fromImage=${encodeURIComponent(image)}`, undefined, headers, signal);
  } catch (err) {
    if (signal?.aborted) throw new Error('pull aborted');
    if (err instanceof DockerError) throw classifyPullError(image, err.message, withAuth);
    throw err;
  }
  const abort = () => res.destroy(new Error('pull aborted'));
  signal?.addEventListener('abort', abort, { once: true });
  const tracker = new PullTracker();
  let last = 0;
  try {
    for await (const m of jsonLines(res)) {
      const error = m.errorDetail?.message ?? m.error;
      if (error) throw classifyPullError(image, error, withAuth);
      tracker.update(m);
      const now = Date.now();
      if (now - last >= everyMs) {
        last = now;
        onProgress(tracker.progress());
      }
    }
  } finally {
    signal?.removeEventListener('abort', abort);
  }
  if (signal?.aborted) throw new Error('pull aborted');
  const done = tracker.progress();
  onProgress({ current: done.total || done.current, total: done.total, status: 'pulled' });
}
