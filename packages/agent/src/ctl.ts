// Operator commands that need no daemon: `hostinfo` (what GetHostInfo would answer, without a
// server) and `call` (one rpc to a running agent, JSON in and out; Events streams JSON lines).
// For looking at an instance by hand, and for checks on hosts without Node.
import { resolve } from 'node:path';
import { credentials, type ServiceError } from '@grpc/grpc-js';
import * as gen from '@dstack/core/gen/agent';
import { DockerEngine } from './docker/engine';
import { collectHostInfo } from './hostinfo/index';
import { CHANNEL_OPTIONS } from '@dstack/core/grpc';

/** Buffers (log data) print as text. */
function json(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data)) {
      return Buffer.from((v as { data: number[] }).data).toString('utf8');
    }
    return v;
  });
}

export async function hostinfo(dataDir: string): Promise<void> {
  process.stdout.write(`${json(await collectHostInfo(dataDir, new DockerEngine()))}\n`);
}

type Unary = (req: unknown, cb: (err: ServiceError | null, res: unknown) => void) => void;

// Not SetJobSecrets: its JSON would put secret values on a command line.
export const CALLABLE = Object.keys(gen.AgentService)
  .filter((k) => k !== 'putBlobs' && k !== 'setJobSecrets')
  .map((k) => k[0].toUpperCase() + k.slice(1));

export async function call(socket: string, method: string, body: string): Promise<void> {
  if (!CALLABLE.includes(method)) throw new Error(`unknown method ${method}: one of ${CALLABLE.join(', ')}`);
  let input: unknown;
  try {
    input = JSON.parse(body || '{}');
  } catch (err) {
    throw new Error(`the request is not JSON: ${(err as Error).message}`);
  }
  const reqType = (gen as unknown as Record<string, { fromJSON(o: unknown): unknown }>)[`${method}Request`];
  const req = reqType.fromJSON(input);
  const client = new gen.AgentClient(`unix://${resolve(socket)}`, credentials.createInsecure(), CHANNEL_OPTIONS);
  const name = method[0].toLowerCase() + method.slice(1);
  try {
    if (method === 'Events') {
      const stream = client.events(req as gen.EventsRequest);
      await new Promise<void>((resolve, reject) => {
        stream.on('data', (e: unknown) => process.stdout.write(`${json(e)}\n`));
        stream.on('error', reject);
        stream.on('end', resolve);
      });
      return;
    }
    const res = await new Promise((resolve, reject) =>
      (client as unknown as Record<string, Unary>)[name].bind(client)(req, (err, r) =>
        err ? reject(new Error(`${method}: ${err.details || err.message}`)) : resolve(r),
      ),
    );
    process.stdout.write(`${json(res)}\n`);
  } finally {
    client.close();
  }
}
