// IDE server pre-install from a local HTTP server (the URL templates overridden by env vars on the
// agent, as a user behind a mirror would): unpacked into the user's home in the container or on the
// host, progress in the log; a failed download is a warning and the job still runs.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { JobState } from '@dstack/core/gen/agent';
import { docker } from '../harness/docker';
import { mustRun, tempDir } from '../harness/util';
import { startAgent, uniqueId, type AgentProcess } from './agent';

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
    writeFileSync(join(src, 'bin/code-server'), '#!/bin/sh\necho code-server\n', { mode: 0o755 });
    await mustRun('tar', ['-C', join(work.path, 'src'), '-czf', join(work.path, 'server.tar.gz'), 'vscode-server-linux-x64']);
    tarball = readFileSync(join(work.path, 'server.tar.gz'));
    server = createServer((req, res) => {
      requests.push(req.url ?? '');
      if (req.url?.includes('/missing/')) {
        res.writeHead(404).end('no such commit');
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/gzip', 'Content-Length': tarball.length }).end(tarball);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    mkdirSync(home, { recursive: true });
    ({ agent, cleanup } = await startAgent({
      DOCKER_HOST: inject('dockerHost'),
      HOME: home,
      DSTACK_VSCODE_SERVER_URL: `${base}/vscode/{commit}/server-linux-{arch}.tar.gz`,
      DSTACK_CURSOR_SERVER_URL: `${base}/cursor/{commit}/reh-{arch}.tar.gz`,
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
    expect(requests).toContain('/vscode/abc123/server-linux-x64.tar.gz');
    const out = await docker(['exec', job.status!.containerId, 'sh', '-c', 'cat /root/.vscode-server/bin/abc123/product.json; test -x /root/.vscode-server/bin/abc123/bin/code-server && echo exec-ok']);
    expect(out.stdout).toBe('{"commit":"test"}\nexec-ok\n');
    expect(await agent.logText(jobId)).toMatch(/installed the vscode server \([\d.]+ MiB\) in ~\/\.vscode-server\/bin\/abc123/);
  });

  it('unpacks the Cursor server into the home of the host user in host mode', async () => {
    const jobId = uniqueId('ide-host');
    await agent.submit({ jobId, runtime: 'host', ide: { name: 'cursor', version: 'def456' } });
    await agent.waitState(jobId, JobState.JOB_STATE_RUNNING);
    expect(requests).toContain('/cursor/def456/reh-x64.tar.gz');
    expect(readFileSync(join(home, '.cursor-server/cli/servers/Stable-def456/server/product.json'), 'utf8')).toBe('{"commit":"test"}\n');
  });

  it('runs the job anyway when the download fails, with a warning in the log', async () => {
    const jobId = uniqueId('ide-fail');
    await agent.submit({ jobId, runtime: 'host', ide: { name: 'vscode', version: 'missing' } });
    // The commit names a path the server answers 404 for.
    await agent.waitState(jobId, JobState.JOB_STATE_RUNNING);
    expect(await agent.logText(jobId)).toMatch(/warning: the vscode server was not pre-installed: HTTP 404/);
  });
});
