// The shared server plumbing over a real unix socket: each error class reaches a grpc-js client with
// its status code and its message as the details.
import { credentials, makeGenericClientConstructor, status, type Client, type Server, type ServiceError } from '@grpc/grpc-js';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BadRequestError,
  bindUnix,
  CHANNEL_OPTIONS,
  ConflictError,
  newServer,
  NotFoundError,
  NotImplementedError,
  PreconditionError,
  serverStream,
  unary,
} from './grpc';

const text = { serialize: (s: string) => Buffer.from(s), deserialize: (b: Buffer) => b.toString() };
const method = (path: string, responseStream: boolean) => ({
  path,
  requestStream: false,
  responseStream,
  requestSerialize: text.serialize,
  requestDeserialize: text.deserialize,
  responseSerialize: text.serialize,
  responseDeserialize: text.deserialize,
});
const service = { echo: method('/t.T/Echo', false), lines: method('/t.T/Lines', true) };

const ERRORS: Record<string, () => Error> = {
  bad: () => new BadRequestError('bad value "x"'),
  missing: () => new NotFoundError('no run "x"'),
  taken: () => new ConflictError('run "x" exists'),
  later: () => new PreconditionError('the run is not up'),
  nyi: () => new NotImplementedError('not built'),
  bug: () => new TypeError('undefined is not a function'),
};

const tmp = mkdtempSync(join(tmpdir(), 'dstack-grpc-'));
const socket = join(tmp, 's.sock');
const reported: number[] = [];
let server: Server;
let client: Client & Record<string, (...a: unknown[]) => unknown>;

beforeAll(async () => {
  server = newServer();
  const report = (_e: unknown, code: number) => reported.push(code);
  server.addService(service, {
    echo: unary(async (req: string) => {
      if (ERRORS[req]) throw ERRORS[req]();
      return `echo ${req}`;
    }, report),
    lines: serverStream<string, string>((req, call) => {
      if (ERRORS[req]) throw ERRORS[req]();
      call.write('one');
      call.end();
    }, report),
  });
  await bindUnix(server, socket);
  const Ctor = makeGenericClientConstructor(service, 'T');
  client = new Ctor(`unix://${socket}`, credentials.createInsecure(), CHANNEL_OPTIONS) as typeof client;
});
afterAll(() => {
  client?.close();
  server?.forceShutdown();
  rmSync(tmp, { recursive: true, force: true });
});

const echo = (req: string) =>
  new Promise<string>((resolve, reject) => client.echo(req, (err: ServiceError | null, res: string) => (err ? reject(err) : resolve(res))));
const lines = (req: string) =>
  new Promise<string[]>((resolve, reject) => {
    const got: string[] = [];
    const s = client.lines(req) as NodeJS.ReadableStream;
    s.on('data', (d: string) => got.push(d));
    s.on('error', reject);
    s.on('end', () => resolve(got));
  });

describe('grpc server plumbing', () => {
  it('binds a socket only its owner may use', () => {
    expect(statSync(socket).mode & 0o777).toBe(0o600);
  });

  it('answers with what the handler returns', async () => {
    expect(await echo('hi')).toBe('echo hi');
    expect(await lines('hi')).toEqual(['one']);
  });

  it.each([
    ['bad', status.INVALID_ARGUMENT, 'bad value "x"'],
    ['missing', status.NOT_FOUND, 'no run "x"'],
    ['taken', status.ALREADY_EXISTS, 'run "x" exists'],
    ['later', status.FAILED_PRECONDITION, 'the run is not up'],
    ['nyi', status.UNIMPLEMENTED, 'not built'],
    ['bug', status.INTERNAL, 'undefined is not a function'],
  ])('%s: unary and streaming answer with code %i and the message as details', async (req, code, details) => {
    reported.length = 0;
    await expect(echo(req)).rejects.toMatchObject({ code, details });
    await expect(lines(req)).rejects.toMatchObject({ code, details });
    expect(reported).toEqual([code, code]);
  });
});
