// IDE server pre-install from a local HTTPS server (the URL templates overridden by env vars on the
// agent, as a user behind a mirror would; its certificate trusted through NODE_EXTRA_CA_CERTS):
// checked against the sha256 the (stand-in) update API publishes for VS Code, unpacked into the
// user's home in the container or on the host, progress in the log; a failed download or check is
// a warning, nothing is unpacked, and the job still runs. Then the Python and Jupyter extensions, as
// dstack pre-installs them: from a stand-in marketplace (DSTACK_VSCODE_EXTENSION_URL) through the
// server's command line, or by name through it (Cursor here: its own gallery); a marketplace that
// fails is a warning too.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { JobState } from '@dstack/core/gen/agent';
import { docker } from '../harness/docker';
import { mustRun, tempDir } from '../harness/util';
import { startAgent, uniqueId, type AgentProcess } from './agent';

/** Starts as a zip does; the stand-in server CLI looks no further. */
const VSIX = Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.from('a stand-in VSIX')]);

const FAKE_CLI = `#!/bin/sh
d=$(dirname "$0")/..
case "$1" in
  --list-extensions) cat "$d/extensions.txt" 2>/dev/null; exit 0 ;;
  --install-extension)
    case "$2" in
      *.vsix) [ "$(head -c 2 "$2")" = PK ] || exit 5; id=$(basename "$2" .vsix) ;;
      *) id=$2 ;;
    esac
    echo "$id" >> "$d/extensions.txt"
    echo "$id from $2" >> "$d/installs.log"
    exit 0 ;;
esac
echo code-server
`;

let marketplaceDown = false;

describe('IDE server pre-install', () => {
  let agent: AgentProcess;
  let cleanup: () => Promise<void>;
  let server: Server;
  let tarball: Buffer;
  const requests: string[] = [];
  const work = tempDir('ide');
  const home = join(work.path, 'home');

  beforeAll(async () => {
    const src = join(work.path, 'src/vscode-server-linux-x64');
    mkdirSync(join(src, 'bin'), { recursive: true });
    writeFileSync(join(src, 'product.json'), '{"commit":"test"}\n');
    // A stand-in for the server's command line: lists and "installs" extensions in files beside it.
    for (const cli of ['code-server', 'cursor-server']) writeFileSync(join(src, 'bin', cli), FAKE_CLI, { mode: 0o755 });
    await mustRun('tar', ['-C', join(work.path, 'src'), '-czf', join(work.path, 'server.tar.gz'), 'vscode-server-linux-x64']);
    tarball = readFileSync(join(work.path, 'server.tar.gz'));
    const sha256 = createHash('sha256').update(tarball).digest('hex');
    const [key, cert] = ['key.pem', 'cert.pem'].map((f) => join(work.path, f));
    await mustRun('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ]);
    server = createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (req, res) => {
      const url = req.url ?? '';
      requests.push(url);
      if (url.startsWith('/ext/')) {
        if (marketplaceDown) res.writeHead(503).end('down for maintenance');
        // As the VS Code Marketplace does: gzip-encoded whether asked or not (for one of them here).
        else if (url.includes('jupyter')) res.writeHead(200, { 'Content-Encoding': 'gzip' }).end(gzipSync(VSIX));
        else res.writeHead(200).end(VSIX);
      } else if (url.includes('/missing/')) res.writeHead(404).end('no such commit');
      else if (url.startsWith('/vscode/tohttp/'))
        res.writeHead(302, { Location: `http://127.0.0.1:${(server.address() as AddressInfo).port}/plain.tar.gz` }).end();
      else if (url.startsWith('/vscode-api/')) {
        // The update API's answer; for commit "badsha" a hash of other bytes.
        const published = url.includes('/badsha/') ? createHash('sha256').update('other bytes').digest('hex') : sha256;
        res
          .writeHead(200, { 'Content-Type': 'application/json' })
          .end(JSON.stringify({ url: 'https://elsewhere.test/x.tar.gz', sha256hash: published }));
      } else res.writeHead(200, { 'Content-Type': 'application/gzip', 'Content-Length': tarball.length }).end(tarball);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    mkdirSync(home, { recursive: true });
    ({ agent, cleanup } = await startAgent({
      DOCKER_HOST: inject('dockerHost'),
      HOME: home,
      NODE_EXTRA_CA_CERTS: cert,
      DSTACK_VSCODE_SERVER_URL: `${base}/vscode/{commit}/server-linux-{arch}.tar.gz`,
      DSTACK_VSCODE_SERVER_SHA256_URL: `${base}/vscode-api/{commit}/{arch}.json`,
      DSTACK_CURSOR_SERVER_URL: `${base}/cursor/{commit}/reh-{arch}.tar.gz`,
      DSTACK_VSCODE_EXTENSION_URL: `${base}/ext/{publisher}/{name}.vsix`,
    }));
  });
  afterAll(async () => {
    await cleanup?.();
    server?.close();
    work.cleanup();
  });

  it('unpacks the VS Code server into ~/.vscode-server/bin/<commit> inside the container', async () => {
    const jobId = uniqueId('ide-docker');
    await agent.submit({ jobId, runtime: 'docker', image: inject('debianImage'), ide: { name: 'vscode', version: 'abc123' } });
    const job = await agent.waitState(jobId, JobState.JOB_STATE_RUNNING);
    expect(requests).toContain('/vscode-api/abc123/x64.json');
    expect(requests).toContain('/vscode/abc123/server-linux-x64.tar.gz');
    const out = await docker([
      'exec',
      job.status!.containerId,
      'sh',
      '-c',
      'cat /root/.vscode-server/bin/abc123/product.json; test -x /root/.vscode-server/bin/abc123/bin/code-server && echo exec-ok',
    ]);
    expect(out.stdout).toBe('{"commit":"test"}\nexec-ok\n');
    // The extensions went into the container's server too (through stdin: the agent's folder is not there).
    const ext = await docker(['exec', job.status!.containerId, 'cat', '/root/.vscode-server/bin/abc123/extensions.txt']);
    expect(ext.stdout).toBe('ms-python.python\nms-toolsai.jupyter\n');
    expect(await agent.logText(jobId)).toMatch(
      /installed the vscode server \([\d.]+ MiB, sha256 as published\) in ~\/\.vscode-server\/bin\/abc123/,
    );
    // The tarball waited in the job's own folder, and is gone.
    expect(readdirSync(join(agent.dataDir, 'jobs', jobId))).not.toContain('ide-server.tar.gz');
  });

  it('unpacks the Cursor server into the home of the host user in host mode', async () => {
    const jobId = uniqueId('ide-host');
    const fetched = requests.filter((u) => u.startsWith('/ext/')).length;
    await agent.submit({ jobId, runtime: 'host', ide: { name: 'cursor', version: 'def456' } });
    await agent.waitState(jobId, JobState.JOB_STATE_RUNNING);
    expect(requests).toContain('/cursor/def456/reh-x64.tar.gz');
    expect(readFileSync(join(home, '.cursor-server/cli/servers/Stable-def456/server/product.json'), 'utf8')).toBe('{"commit":"test"}\n');
    expect(await agent.logText(jobId)).toMatch(/installed the cursor server \([\d.]+ MiB, no published sha256 for cursor to check\)/);
    // No extension URL for Cursor: its command line installs them by name, from its own gallery.
    expect(readFileSync(join(home, '.cursor-server/cli/servers/Stable-def456/server/installs.log'), 'utf8')).toBe(
      'ms-python.python from ms-python.python\nms-toolsai.jupyter from ms-toolsai.jupyter\n',
    );
    expect(requests.filter((u) => u.startsWith('/ext/')).length).toBe(fetched);
  });

  it("installs dstack's Python and Jupyter extensions from the marketplace URL, gzip undone, once", async () => {
    const jobId = uniqueId('ide-ext');
    await agent.submit({ jobId, runtime: 'host', ide: { name: 'vscode', version: 'ext1' } });
    await agent.waitState(jobId, JobState.JOB_STATE_RUNNING);
    expect(requests).toContain('/ext/ms-python/python.vsix');
    expect(requests).toContain('/ext/ms-toolsai/jupyter.vsix');
    const server = join(home, '.vscode-server/bin/ext1');
    // Each VSIX went in as a file (the stand-in checks it starts as a zip), from a temporary folder now gone.
    const installs = readFileSync(join(server, 'installs.log'), 'utf8').trim().split('\n');
    expect(installs.map((l) => l.replace(/ from .*\//, ' from '))).toEqual([
      'ms-python.python from ms-python.python.vsix',
      'ms-toolsai.jupyter from ms-toolsai.jupyter.vsix',
    ]);
    for (const l of installs) expect(existsSync(l.split(' from ')[1])).toBe(false);
    const log = await agent.logText(jobId);
    expect(log).toMatch(/installed the ms-python\.python extension \([\d.]+ MiB\) in the vscode server/);
    expect(log).toMatch(/installed the ms-toolsai\.jupyter extension/);
    expect(readdirSync(join(agent.dataDir, 'jobs', jobId))).not.toContain('ide-extension.vsix');

    // A second job with the same server: the extensions are listed, nothing is fetched again.
    const before = requests.filter((u) => u.startsWith('/ext/')).length;
    const again = uniqueId('ide-ext-again');
    await agent.submit({ jobId: again, runtime: 'host', ide: { name: 'vscode', version: 'ext1' } });
    await agent.waitState(again, JobState.JOB_STATE_RUNNING);
    expect(await agent.logText(again)).toMatch(/the vscode extensions are already installed: ms-python\.python, ms-toolsai\.jupyter/);
    expect(requests.filter((u) => u.startsWith('/ext/')).length).toBe(before);
  });

  it('runs the job anyway when the marketplace fails, with a warning per extension', async () => {
    marketplaceDown = true;
    try {
      const jobId = uniqueId('ide-ext-down');
      await agent.submit({ jobId, runtime: 'host', ide: { name: 'vscode', version: 'ext2' } });
      await agent.waitState(jobId, JobState.JOB_STATE_RUNNING);
      const log = await agent.logText(jobId);
      expect(log).toMatch(
        /warning: the ms-python\.python extension was not installed: HTTP 503 from https:\/\/127\.0\.0\.1:\d+\/ext\/ms-python\/python\.vsix; install it from the IDE/,
      );
      expect(log).toMatch(/warning: the ms-toolsai\.jupyter extension was not installed: HTTP 503/);
      expect(existsSync(join(home, '.vscode-server/bin/ext2/installs.log'))).toBe(false);
    } finally {
      marketplaceDown = false;
    }
  });

  it('unpacks nothing when the sha256 differs from the published one', async () => {
    const jobId = uniqueId('ide-badsha');
    await agent.submit({ jobId, runtime: 'host', ide: { name: 'vscode', version: 'badsha' } });
    await agent.waitState(jobId, JobState.JOB_STATE_RUNNING);
    expect(requests).toContain('/vscode/badsha/server-linux-x64.tar.gz');
    expect(await agent.logText(jobId)).toMatch(
      /warning: the vscode server was not pre-installed: https:\/\/127\.0\.0\.1:\d+\/vscode\/badsha\/server-linux-x64\.tar\.gz: its sha256 is [0-9a-f]{64}, the published one [0-9a-f]{64}/,
    );
    expect(existsSync(join(home, '.vscode-server/bin/badsha'))).toBe(false);
    expect(existsSync(join(home, '.vscode-server/bin/badsha.part'))).toBe(false);
  });

  it('refuses a redirect to http', async () => {
    const jobId = uniqueId('ide-http');
    await agent.submit({ jobId, runtime: 'host', ide: { name: 'vscode', version: 'tohttp' } });
    await agent.waitState(jobId, JobState.JOB_STATE_RUNNING);
    expect(await agent.logText(jobId)).toMatch(
      /warning: the vscode server was not pre-installed: the redirect from https:\/\/127\.0\.0\.1:\d+\/vscode\/tohttp\/server-linux-x64\.tar\.gz to http:\/\/127\.0\.0\.1:\d+\/plain\.tar\.gz: only https is fetched/,
    );
    expect(requests).not.toContain('/plain.tar.gz');
    expect(existsSync(join(home, '.vscode-server/bin/tohttp'))).toBe(false);
  });

  it('runs the job anyway when the download fails, with a warning in the log', async () => {
    const jobId = uniqueId('ide-fail');
    await agent.submit({ jobId, runtime: 'host', ide: { name: 'vscode', version: 'missing' } });
    // The commit names a path the server answers 404 for.
    await agent.waitState(jobId, JobState.JOB_STATE_RUNNING);
    expect(await agent.logText(jobId)).toMatch(/warning: the vscode server was not pre-installed: HTTP 404/);
  });
});
