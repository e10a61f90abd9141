// The client's side of the protocol, against an in-process gRPC server on a temp unix socket that
// answers a few Daemon calls the way the daemon does (this is a unit test of client.ts: the real
// daemon is exercised by test/cli). What is checked: how versions are compared, how gRPC errors become
// one line, and how streams end when cancelled.
import { mkdtempSync, renameSync, rmSync } from 'node:fs';
import { connect as netConnect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { DaemonService, Run, type AttachEvent, type DaemonServer } from '@dstack/core/gen/daemon';
import { VERSION } from '@dstack/core/version';
import { connect, toUserError } from './client';
import { DaemonError, UserError } from '../errors';

const homes: string[] = [];
const servers: grpc.Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.forceShutdown();
  for (const h of homes.splice(0)) rmSync(h, { recursive: true, force: true });
});

const unimplemented = (_call: unknown, cb: (err: Partial<grpc.ServiceError>) => void) =>
  cb({ code: grpc.status.UNIMPLEMENTED, details: 'not here' });

function silentImpl(): Record<string, unknown> {
  const impl: Record<string, unknown> = {};
  for (const key of Object.keys(DaemonService)) impl[key] = unimplemented;
  return impl;
}

async function serve(version: string, overrides: Partial<DaemonServer> = {}): Promise<string> {
  const home = mkdtempSync(join(tmpdir(), 'dstack-client-'));
  homes.push(home);
  const impl = silentImpl();
  Object.assign(impl, {
    status: (_c: unknown, cb: grpc.sendUnaryData<unknown>) =>
      cb(null, { version, pid: 42, home, startedMs: 0, logFile: '', activeRuns: 0, backends: ['local'], notices: [] }),
    ...overrides,
  });
  const server = new grpc.Server();
  server.addService(DaemonService, impl as unknown as grpc.UntypedServiceImplementation);
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${join(home, 'daemon.sock')}`, grpc.ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(),
    ),
  );
  servers.push(server);
  return home;
}

describe('connect', () => {
  it('talks to a daemon of the same version', async () => {
    const home = await serve(VERSION);
    const d = await connect({ home, autoStart: false });
    expect((await d.status()).pid).toBe(42);
    d.close();
  });

  it('says in one line what to do when the daemon runs another version', async () => {
    const home = await serve('0.0.1-old');
    const err = await connect({ home, autoStart: false }).catch((e) => e);
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toBe(
      `the running dstack daemon is version 0.0.1-old and this CLI is ${VERSION}: restart it with \`dstack daemon stop\` (the next command starts this version; runs keep running)`,
    );
    const ok = await connect({ home, autoStart: false, checkVersion: false });
    ok.close();
  });

  it('does not start a daemon when told not to', async () => {
    const home = mkdtempSync(join(tmpdir(), 'dstack-client-'));
    homes.push(home);
    const err = await connect({ home, autoStart: false }).catch((e) => e);
    expect(err.message).toBe('the dstack daemon is not running: start it with `dstack daemon start`');
  });
});

describe('errors', () => {
  it("turns the daemon's error into its message, exit 1", async () => {
    const home = await serve(VERSION, {
      getRun: (call, cb) =>
        cb({
          code: grpc.status.NOT_FOUND,
          details: `run ${call.request.name} not found`,
          name: '',
          message: '',
          metadata: new grpc.Metadata(),
        }),
    });
    const d = await connect({ home, autoStart: false });
    const err = await d.getRun('ghost').catch((e) => e);
    d.close();
    expect(err).toBeInstanceOf(DaemonError);
    expect(err.message).toBe('run ghost not found');
    expect(err.exitCode).toBe(1);
  });

  it('names the log when the daemon cannot be reached', () => {
    const err = toUserError({ code: grpc.status.UNAVAILABLE, details: 'No connection established' }, '/h');
    expect(err.message).toBe('lost the connection to the dstack daemon (No connection established); its log: /h/daemon.log');
  });

  it('keeps a message with non-ASCII characters and percent signs as the daemon wrote it', async () => {
    const details = 'run „ü-100%" not found';
    const home = await serve(VERSION, {
      getRun: (_call, cb) => cb({ code: grpc.status.NOT_FOUND, details, name: '', message: '', metadata: new grpc.Metadata() }),
    });
    const d = await connect({ home, autoStart: false });
    const err = await d.getRun('x').catch((e) => e);
    d.close();
    expect(err.message).toBe(details);
  });

  it('gives up on a call past its deadline and names the log', async () => {
    const home = await serve(VERSION);
    const d = await connect({ home, autoStart: false });
    // A status call the server never answers (the deadline is the client's own).
    servers[0].removeService(DaemonService);
    servers[0].addService(DaemonService, { ...silentImpl(), status: () => undefined } as unknown as grpc.UntypedServiceImplementation);
    const err = await d.status(200).catch((e) => e);
    d.close();
    expect(err).toBeInstanceOf(DaemonError);
    expect(err.grpcCode).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(err.message).toBe(`the dstack daemon did not answer in time; its log: ${join(home, 'daemon.log')}`);
  });

  it('says the connection is lost when the daemon dies during a stream (its socket closes)', async () => {
    // The client reaches the daemon through a proxy whose connections are cut, as a kill -9 does.
    const home = await serve(VERSION, {
      attach: (call) => void call.write({ payload: { $case: 'run', value: Run.fromPartial({ name: 'r1', status: 'running' }) } }),
    });
    const sock = join(home, 'daemon.sock');
    renameSync(sock, join(home, 'real.sock'));
    const conns: Socket[] = [];
    const proxy = createServer((c) => {
      const up = netConnect(join(home, 'real.sock'));
      conns.push(c, up);
      c.pipe(up).pipe(c);
      c.on('error', () => {});
      up.on('error', () => {});
    });
    await new Promise<void>((r) => proxy.listen(sock, r));
    const d = await connect({ home, autoStart: false });
    const err = await (async () => {
      for await (const _ of d.attach({ name: 'r1', countAsActivity: false, logsFrom: 0, noLogs: true })) {
        for (const c of conns) c.destroy();
      }
    })().catch((e) => e);
    d.close();
    proxy.close();
    expect(err).toBeInstanceOf(DaemonError);
    expect(err.grpcCode).toBe(grpc.status.UNAVAILABLE);
    expect(err.message).toMatch(/^lost the connection to the dstack daemon \(.+\); its log: /);
  });

  it('leaves other errors as they are', () => {
    const e = new Error('plain');
    expect(toUserError(e)).toBe(e);
  });
});

describe('messages', () => {
  it('carries a reply larger than one HTTP/2 window intact', async () => {
    const runs = Array.from({ length: 2000 }, (_, i) =>
      Run.fromPartial({ name: `run-${i}`, status: 'running', statusMessage: 'x'.repeat(200) }),
    );
    const home = await serve(VERSION, { listRuns: (_call, cb) => cb(null, { runs }) });
    const d = await connect({ home, autoStart: false });
    const resp = await d.listRuns(true);
    d.close();
    expect(resp.runs.length).toBe(2000);
    expect(resp.runs[1999].name).toBe('run-1999');
    expect(resp.runs[1999].statusMessage).toBe('x'.repeat(200));
  });

  it('yields every message of a long stream in order to a slow reader', async () => {
    const n = 500;
    const home = await serve(VERSION, {
      getLogs: (call) => {
        for (let i = 0; i < n; i++) call.write({ offset: i, data: Buffer.alloc(1000, i % 256), stream: 'stdout', timeMs: 0 });
        call.end();
      },
    });
    const d = await connect({ home, autoStart: false });
    const offsets: number[] = [];
    for await (const entry of d.getLogs({ name: 'r', sinceMs: 0, follow: false })) {
      offsets.push(entry.offset);
      if (offsets.length % 50 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    d.close();
    expect(offsets).toEqual(Array.from({ length: n }, (_, i) => i));
  });
});

describe('streams', () => {
  it('yields events and ends quietly when cancelled', async () => {
    const home = await serve(VERSION, {
      attach: (call) => {
        const ev: AttachEvent = { payload: { $case: 'run', value: Run.fromPartial({ name: call.request.name, status: 'running' }) } };
        call.write(ev);
        // and then nothing more: the client cancels
      },
    });
    const d = await connect({ home, autoStart: false });
    const stream = d.attach({ name: 'r1', countAsActivity: true, logsFrom: 0, noLogs: false });
    const seen: string[] = [];
    for await (const ev of stream) {
      if (ev.payload?.$case === 'run') seen.push(`${ev.payload.value.name}:${ev.payload.value.status}`);
      stream.cancel();
    }
    d.close();
    expect(seen).toEqual(['r1:running']);
  });

  it('throws the error of a stream that fails', async () => {
    const home = await serve(VERSION, {
      getLogs: (call) => void call.emit('error', { code: grpc.status.NOT_FOUND, details: 'run nope not found' }),
    });
    const d = await connect({ home, autoStart: false });
    const err = await (async () => {
      for await (const _ of d.getLogs({ name: 'nope', sinceMs: 0, follow: false })) void _;
    })().catch((e) => e);
    d.close();
    expect(err).toBeInstanceOf(DaemonError);
    expect(err.message).toBe('run nope not found');
  });
});
