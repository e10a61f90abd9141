// The Docker Engine API over its socket, with nothing but node:http: JSON calls, streamed responses
// (pull progress, logs) and hijacked connections (exec with a TTY). DOCKER_HOST is honoured
// (unix:///path or tcp://host:port); the default is /var/run/docker.sock.
import { request, type IncomingMessage, type RequestOptions } from 'node:http';
import type { Duplex } from 'node:stream';

// Engine 20.10 speaks 1.41; newer engines still accept it.
const API = '/v1.41';

export interface DockerEndpoint {
  socketPath?: string;
  host?: string;
  port?: number;
}

export function dockerEndpoint(env: NodeJS.ProcessEnv = process.env): DockerEndpoint {
  const host = env.DOCKER_HOST;
  if (!host) return { socketPath: '/var/run/docker.sock' };
  if (host.startsWith('unix://')) return { socketPath: host.slice('unix://'.length) };
  if (host.startsWith('tcp://')) {
    const url = new URL(`http://${host.slice('tcp://'.length)}`);
    return { host: url.hostname, port: Number(url.port || 2375) };
  }
  throw new Error(`DOCKER_HOST=${host}: only unix:// and tcp:// are supported`);
}

export class DockerError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'DockerError';
  }
}

function options(endpoint: DockerEndpoint, method: string, path: string, headers: Record<string, string>): RequestOptions {
  return { ...endpoint, method, path: `${API}${path}`, headers };
}

async function readBody(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function errorFrom(res: IncomingMessage): Promise<DockerError> {
  const text = await readBody(res);
  let message = text.trim();
  try {
    message = (JSON.parse(text) as { message?: string }).message ?? message;
  } catch {
    /* not JSON */
  }
  return new DockerError(res.statusCode ?? 0, message || `HTTP ${res.statusCode}`);
}

export class DockerEngine {
  constructor(readonly endpoint: DockerEndpoint = dockerEndpoint()) {}

  /** A request whose response is streamed back; non-2xx answers become a DockerError. */
  stream(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
    signal?: AbortSignal,
  ): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const h: Record<string, string> = { ...headers };
      if (payload) {
        h['Content-Type'] = 'application/json';
        h['Content-Length'] = String(payload.length);
      }
      const req = request({ ...options(this.endpoint, method, path, h), signal }, (res) => {
        if ((res.statusCode ?? 500) >= 300) errorFrom(res).then(reject, reject);
        else resolve(res);
      });
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** A JSON call; an empty answer (204) is undefined. */
  async json<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    const res = await this.stream(method, path, body, headers);
    const text = await readBody(res);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /**
   * A hijacked connection (exec start, attach): after the HTTP upgrade the socket carries the raw
   * stream both ways. Without a TTY, Docker multiplexes stdout and stderr with 8-byte frame headers.
   */
  hijack(path: string, body: unknown): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      const payload = Buffer.from(JSON.stringify(body));
      const req = request(
        options(this.endpoint, 'POST', path, {
          'Content-Type': 'application/json',
          'Content-Length': String(payload.length),
          Connection: 'Upgrade',
          Upgrade: 'tcp',
        }),
      );
      req.on('upgrade', (_res, socket, head) => {
        if (head.length) socket.unshift(head);
        resolve(socket);
      });
      req.on('response', (res) => errorFrom(res).then(reject, reject));
      req.on('error', reject);
      req.end(payload);
    });
  }

  async ping(): Promise<boolean> {
    try {
      await this.stream('GET', '/_ping').then(readBody);
      return true;
    } catch {
      return false;
    }
  }
}
