// The IDE server download's rules, against a stand-in for https.get (no network here): https only,
// at every redirect; the size cap, announced or not; the sha256 check; the update API's answer.
// test/agent/ide.test.ts runs the whole pre-install against a local HTTPS server.
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { downloadChecked, fetchHttps, publishedSha256, requireHttps, type HttpsGet } from './ide-download';
import { extensionUrlFor, idePlan } from './ide';

const dir = mkdtempSync(join(tmpdir(), 'dstack-ide-download-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Route {
  status?: number;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

/** A stand-in for https.get serving `routes` by URL; `asked` lists every URL requested. */
function fakeGet(routes: Record<string, Route>): { get: HttpsGet; asked: string[] } {
  const asked: string[] = [];
  const get: HttpsGet = (url, _opts, cb) => {
    asked.push(url);
    const req = new EventEmitter() as EventEmitter & { destroy(e?: Error): void };
    req.destroy = (e) => e && req.emit('error', e);
    setImmediate(() => {
      const route = routes[url];
      if (!route) return req.emit('error', new Error(`connect ECONNREFUSED for ${url}`));
      const res = Readable.from(route.body === undefined ? [] : [Buffer.from(route.body)]) as unknown as IncomingMessage;
      res.statusCode = route.status ?? 200;
      res.headers = route.headers ?? {};
      cb(res);
    });
    return req;
  };
  return { get, asked };
}

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const tarball = Buffer.from('not really a tarball, but bytes all the same');

describe('requireHttps', () => {
  it('takes https URLs only', () => {
    expect(requireHttps('https://x.test/a', 'URL').href).toBe('https://x.test/a');
    expect(() => requireHttps('http://x.test/a', 'URL')).toThrow('URL http://x.test/a: only https is fetched');
    expect(() => requireHttps('file:///etc/passwd', 'URL')).toThrow('URL file:///etc/passwd: only https is fetched');
    expect(() => requireHttps('x.test/a', 'URL')).toThrow('URL "x.test/a" is not a URL');
  });
});

describe('fetchHttps', () => {
  it('follows redirects to https, relative ones too', async () => {
    const { get, asked } = fakeGet({
      'https://a.test/start': { status: 302, headers: { location: 'https://b.test/next' } },
      'https://b.test/next': { status: 301, headers: { location: '/final' } },
      'https://b.test/final': { body: 'ok' },
    });
    const res = await fetchHttps('https://a.test/start', { get });
    expect(res.statusCode).toBe(200);
    expect(asked).toEqual(['https://a.test/start', 'https://b.test/next', 'https://b.test/final']);
  });

  it('refuses a redirect to http without following it, and an http URL without asking', async () => {
    const { get, asked } = fakeGet({
      'https://a.test/start': { status: 302, headers: { location: 'http://a.test/plain' } },
      'http://a.test/plain': { body: 'never' },
    });
    await expect(fetchHttps('https://a.test/start', { get })).rejects.toThrow(
      'the redirect from https://a.test/start to http://a.test/plain: only https is fetched',
    );
    await expect(fetchHttps('http://a.test/plain', { get })).rejects.toThrow('only https is fetched');
    expect(asked).toEqual(['https://a.test/start']);
  });

  it('gives up after 5 redirects, and names the status of a failure', async () => {
    const loop = fakeGet({ 'https://a.test/loop': { status: 302, headers: { location: '/loop' } } });
    await expect(fetchHttps('https://a.test/loop', { get: loop.get })).rejects.toThrow('too many redirects from https://a.test/loop');
    expect(loop.asked).toHaveLength(6);
    const missing = fakeGet({ 'https://a.test/x': { status: 404 } });
    await expect(fetchHttps('https://a.test/x', { get: missing.get })).rejects.toThrow('HTTP 404 from https://a.test/x');
  });
});

describe('downloadChecked', () => {
  const url = 'https://dl.test/server.tar.gz';
  const file = join(dir, 'server.tar.gz');

  it('writes the file when its sha256 is the published one', async () => {
    const { get } = fakeGet({ [url]: { body: tarball, headers: { 'content-length': String(tarball.length) } } });
    const progress: number[] = [];
    expect(await downloadChecked(url, file, { get, sha256: sha(tarball).toUpperCase(), onProgress: (n) => progress.push(n) })).toEqual({
      bytes: tarball.length,
      sha256: sha(tarball),
    });
    expect(readFileSync(file).equals(tarball)).toBe(true);
    expect(progress.at(-1)).toBe(tarball.length);
  });

  it('removes the file and says both hashes when they differ', async () => {
    const { get } = fakeGet({ [url]: { body: tarball } });
    const wrong = sha('something else');
    await expect(downloadChecked(url, file, { get, sha256: wrong })).rejects.toThrow(
      `${url}: its sha256 is ${sha(tarball)}, the published one ${wrong}`,
    );
    expect(existsSync(file)).toBe(false);
  });

  it('stops at the size cap, whether the server announces the size or not', async () => {
    const announced = fakeGet({ [url]: { body: tarball, headers: { 'content-length': String(tarball.length) } } });
    await expect(downloadChecked(url, file, { get: announced.get, maxBytes: 10 })).rejects.toThrow(
      `${url} is 0.0 MiB, over the 0.0 MiB limit`,
    );
    const silent = fakeGet({ [url]: { body: tarball } });
    await expect(downloadChecked(url, file, { get: silent.get, maxBytes: 10 })).rejects.toThrow(`${url} is over the 0.0 MiB limit`);
    expect(existsSync(file)).toBe(false);
  });

  it('undoes a gzip Content-Encoding when asked, capping the decoded bytes', async () => {
    const { get } = fakeGet({ [url]: { body: gzipSync(tarball), headers: { 'content-encoding': 'gzip', 'content-length': '5' } } });
    expect((await downloadChecked(url, file, { get, gunzip: true })).sha256).toBe(sha(tarball));
    expect(readFileSync(file).equals(tarball)).toBe(true);
    const big = fakeGet({ [url]: { body: gzipSync(Buffer.alloc(4096)), headers: { 'content-encoding': 'gzip' } } });
    await expect(downloadChecked(url, file, { get: big.get, gunzip: true, maxBytes: 1000 })).rejects.toThrow(
      `${url} is over the 0.0 MiB limit`,
    );
    // Not asked: the bytes as they came.
    const kept = fakeGet({ [url]: { body: gzipSync(tarball), headers: { 'content-encoding': 'gzip' } } });
    expect((await downloadChecked(url, file, { get: kept.get })).sha256).toBe(sha(gzipSync(tarball)));
  });

  it('without a published sha256, checks https and the cap only', async () => {
    const { get } = fakeGet({ [url]: { body: tarball } });
    expect((await downloadChecked(url, file, { get })).sha256).toBe(sha(tarball));
  });
});

describe('publishedSha256', () => {
  const api = 'https://update.test/api/versions/commit:abc/server-linux-x64/stable';

  it("reads the update API's sha256hash", async () => {
    const { get } = fakeGet({
      [api]: { body: JSON.stringify({ url: 'https://dl.test/x', sha256hash: sha(tarball), productVersion: '1.99.0' }) },
    });
    expect(await publishedSha256(api, { get })).toBe(sha(tarball));
  });

  it('fails on an answer without one, one that is not JSON, or one too large', async () => {
    await expect(publishedSha256(api, fakeGet({ [api]: { body: '{"url":"https://dl.test/x"}' } }))).rejects.toThrow(
      `${api}: no sha256hash in the answer`,
    );
    await expect(publishedSha256(api, fakeGet({ [api]: { body: '<html>' } }))).rejects.toThrow(`${api}: the answer is not JSON`);
    await expect(publishedSha256(api, fakeGet({ [api]: { body: 'x'.repeat(65 * 1024) } }))).rejects.toThrow(
      `${api}: the answer is over 64 KiB`,
    );
  });
});

describe('idePlan', () => {
  it("has VS Code's sha256 from its update API, and none for Cursor and Windsurf", () => {
    expect(idePlan({ name: 'vscode', version: 'abc' }, 'arm64', {})).toEqual({
      name: 'vscode',
      url: 'https://update.code.visualstudio.com/commit:abc/server-linux-arm64/stable',
      sha256Url: 'https://update.code.visualstudio.com/api/versions/commit:abc/server-linux-arm64/stable',
      dir: '.vscode-server/bin/abc',
      cli: '.vscode-server/bin/abc/bin/code-server',
    });
    expect(
      idePlan({ name: 'vscode', version: 'abc' }, 'x64', { DSTACK_VSCODE_SERVER_SHA256_URL: 'https://mirror.test/{commit}-{arch}.json' })
        ?.sha256Url,
    ).toBe('https://mirror.test/abc-x64.json');
    expect(idePlan({ name: 'cursor', version: 'def' }, 'x64', {})?.sha256Url).toBeUndefined();
    expect(idePlan({ name: 'windsurf', version: '1.2.3@fed' }, 'x64', {})?.sha256Url).toBeUndefined();
  });

  it("names each server's command line, and the extension URL template only where an env var sets one", () => {
    expect(idePlan({ name: 'cursor', version: 'def' }, 'x64', {})?.cli).toBe(
      '.cursor-server/cli/servers/Stable-def/server/bin/cursor-server',
    );
    expect(idePlan({ name: 'windsurf', version: '1.2.3@fed' }, 'x64', {})?.cli).toBe('.windsurf-server/bin/fed/bin/windsurf-server');
    expect(idePlan({ name: 'vscode', version: 'abc' }, 'x64', {})?.extensionUrl).toBeUndefined();
    const env = { DSTACK_VSCODE_EXTENSION_URL: 'https://mirror.test/{publisher}/{name}.vsix' };
    expect(idePlan({ name: 'vscode', version: 'abc' }, 'x64', env)?.extensionUrl).toBe('https://mirror.test/{publisher}/{name}.vsix');
    expect(idePlan({ name: 'cursor', version: 'def' }, 'x64', env)?.extensionUrl).toBeUndefined();
  });

  it('has nothing to pre-install for Zed (it installs its own server on the first connect)', () => {
    expect(idePlan({ name: 'zed', version: '0.150.0' }, 'x64', {})).toBeUndefined();
  });
});

describe('extensionUrlFor', () => {
  it('fills {publisher} and {name} of publisher.name', () => {
    const t = 'https://marketplace.test/_apis/public/gallery/publishers/{publisher}/vsextensions/{name}/latest/vspackage';
    expect(extensionUrlFor(t, 'ms-python.python')).toBe(
      'https://marketplace.test/_apis/public/gallery/publishers/ms-python/vsextensions/python/latest/vspackage',
    );
    expect(extensionUrlFor('https://m.test/{publisher}.{name}', 'ms-toolsai.jupyter')).toBe('https://m.test/ms-toolsai.jupyter');
  });

  it('refuses ids that are not publisher.name', () => {
    for (const id of ['python', 'a.b.c', '../x.y', 'a/b.c', '.x'])
      expect(extensionUrlFor('https://m.test/{publisher}/{name}', id)).toBeUndefined();
  });
});
