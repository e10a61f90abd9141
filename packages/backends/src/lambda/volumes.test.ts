// Lambda filesystems as network volumes, against a tiny Lambda answering the documented routes
// (GET /file-systems, POST /filesystems, DELETE /filesystems/{id}, launch's file_system_names).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LambdaApi } from './api';
import { LambdaCompute, lambdaMountPoint } from './compute';

let server: Server;
let url: string;
let seen: { method: string; path: string; body: Record<string, unknown> }[];
let answer: (method: string, path: string) => { status?: number; body: unknown };

beforeAll(async () => {
  server = createServer((req, res) => {
    let text = '';
    req.on('data', (c) => {
      text += String(c);
    });
    req.on('end', () => {
      const path = (req.url ?? '').replace(/^\/api\/v1/, '');
      seen.push({ method: req.method ?? '', path, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} });
      const a = answer(req.method ?? '', path);
      res.writeHead(a.status ?? 200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(a.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

beforeEach(() => {
  seen = [];
  answer = () => ({ status: 404, body: { error: { code: 'global/not-found', message: 'no route' } } });
});

const fs = {
  id: 'fs1',
  name: 'dstack-abc-data',
  mount_point: '/lambda/nfs/dstack-abc-data',
  is_in_use: false,
  region: { name: 'us-east-1', description: 'Virginia' },
};

describe('Lambda filesystems as network volumes', () => {
  it('makes, finds and deletes one; a gone one is done; the agent finds it at /lambda/nfs/NAME', async () => {
    const c = new LambdaCompute(new LambdaApi('k', url));
    answer = (method, path) => {
      if (method === 'POST' && path === '/filesystems') return { body: { data: fs } };
      if (method === 'GET' && path === '/file-systems') return { body: { data: [{ ...fs, is_in_use: true }] } };
      if (method === 'DELETE' && path === '/filesystems/fs1') return { body: { data: { deleted_ids: ['fs1'] } } };
      return { status: 404, body: { error: { code: 'global/object-does-not-exist', message: 'Specified file system does not exist.' } } };
    };
    const made = await c.volumes.create({ name: 'dstack-abc-data', region: 'us-east-1', sizeGb: 100 });
    expect(seen[0]).toMatchObject({ method: 'POST', path: '/filesystems', body: { name: 'dstack-abc-data', region: 'us-east-1' } });
    expect(made).toEqual({ id: 'fs1', name: 'dstack-abc-data', region: 'us-east-1', sizeGb: 0, providerState: 'available' });
    expect(await c.volumes.get('fs1')).toMatchObject({ providerState: 'in use' });
    expect(await c.volumes.get('fs2')).toBeNull();
    await c.volumes.delete('fs1');
    await expect(c.volumes.delete('fs9')).resolves.toBeUndefined();
    expect(c.volumes.mount).toBe('host');
    expect(c.volumes.hostPath!(made)).toBe(lambdaMountPoint('dstack-abc-data'));
    expect(lambdaMountPoint('x')).toBe('/lambda/nfs/x');
  });

  it('refuses to delete one an instance has (the provider’s answer, passed on)', async () => {
    const c = new LambdaCompute(new LambdaApi('k', url));
    answer = () => ({ status: 400, body: { error: { code: 'filesystem/in-use', message: 'File system is in use by an instance.' } } });
    await expect(c.volumes.delete('fs1')).rejects.toThrow(/in use/);
  });

  it('launches an instance with its filesystem named', async () => {
    const c = new LambdaCompute(new LambdaApi('k', url));
    answer = (method, path) => {
      if (path === '/ssh-keys') return { body: { data: method === 'GET' ? [] : { id: 'k', name: 'n', public_key: 'p' } } };
      if (path === '/instance-operations/launch') return { body: { data: { instance_ids: ['i1'] } } };
      return { status: 404, body: {} };
    };
    const offer = { backend: 'lambda', region: 'us-east-1', instanceType: 'gpu_1x_a10' } as Parameters<typeof c.create>[0]['offer'];
    const volume = { id: 'fs1', name: 'dstack-abc-data', region: 'us-east-1', sizeGb: 0, providerState: 'available' };
    expect(
      await c.create({ offer, name: 'dstack-abc-dev-0', sshPublicKey: 'ssh-ed25519 AAAA', volumes: [{ volume, path: '/data' }] }),
    ).toBe('i1');
    expect(seen.find((s) => s.path === '/instance-operations/launch')!.body).toMatchObject({
      region_name: 'us-east-1',
      file_system_names: ['dstack-abc-data'],
    });
  });
});
