// The executable's CLI, the socket, the handshake and host info, against the built agent.
import { statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { mustRun, run } from '../harness/util';
import { AGENT_BIN, requireAgentBinary, startAgent, type AgentProcess } from './agent';

describe('dstack-agent executable', () => {
  beforeAll(() => requireAgentBinary());

  it('prints its version and the sha256 of itself', async () => {
    const { stdout } = await mustRun(AGENT_BIN, ['--version']);
    const sha = (await mustRun('sha256sum', [AGENT_BIN])).stdout.split(' ')[0];
    expect(stdout.trim()).toBe(`dstack-agent 0.1.0 sha256:${sha}`);
    const json = JSON.parse((await mustRun(AGENT_BIN, ['--version', '--json'])).stdout);
    expect(json).toMatchObject({ name: 'dstack-agent', version: '0.1.0', sha256: sha, arch: 'x64' });
  });

  it('prints help, and exits 2 with one line naming a bad flag', async () => {
    expect((await mustRun(AGENT_BIN, ['--help'])).stdout).toContain('serve --data-dir DIR');
    const bad = await run(AGENT_BIN, ['serve', '--data-dir', '/tmp/x', '--bogus', '1']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toEqual(['dstack-agent: unknown option --bogus for serve (see dstack-agent --help)']);
    const missing = await run(AGENT_BIN, ['serve']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('serve needs --data-dir DIR');
  });
});

describe('dstack-agent serve', () => {
  let agent: AgentProcess;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    ({ agent, cleanup } = await startAgent({ DOCKER_HOST: inject('dockerHost') }));
  });
  afterAll(async () => cleanup?.());

  it('listens on a socket only its user can use', () => {
    expect(statSync(agent.socket).mode & 0o777).toBe(0o600);
    expect(statSync(agent.dataDir).mode & 0o777).toBe(0o700);
  });

  it('answers the handshake with its version, sha256, protocol and a stable instance id', async () => {
    const sha = (await mustRun('sha256sum', [AGENT_BIN])).stdout.split(' ')[0];
    const h = await agent.handshake();
    expect(h).toMatchObject({ agentVersion: '0.1.0', agentSha256: sha, protocolVersion: 1, pid: agent.proc!.pid, dataDir: agent.dataDir });
    expect(h.instanceId).toMatch(/^[0-9a-f-]{36}$/);
    await agent.stop();
    await agent.start();
    const again = await agent.handshake();
    expect(again.instanceId).toBe(h.instanceId);
    expect(again.pid).not.toBe(h.pid);
  });

  it('refuses a second agent on the same data dir', async () => {
    const second = await run(AGENT_BIN, ['serve', '--data-dir', agent.dataDir], { timeoutMs: 30_000 });
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/another agent \(pid \d+\) already serves/);
    await agent.handshake();
  });

  it('reports the host: CPUs, memory, disk, Docker, OS, kernel', async () => {
    const info = await agent.hostInfo();
    const nproc = Number((await mustRun('nproc', [])).stdout.trim());
    expect(info.cpus).toBe(nproc);
    expect(info.arch).toBe((await mustRun('uname', ['-m'])).stdout.trim());
    expect(info.kernel).toBe((await mustRun('uname', ['-r'])).stdout.trim());
    expect(info.memoryBytes).toBeGreaterThan(256 * 1024 * 1024);
    expect(info.diskTotalBytes).toBeGreaterThan(info.diskFreeBytes);
    expect(info.diskFreeBytes).toBeGreaterThan(0);
    expect(info.docker).toBe(true);
    const dockerVersion = (
      await mustRun('docker', ['-H', inject('dockerHost'), 'version', '--format', '{{.Server.Version}}'])
    ).stdout.trim();
    expect(info.dockerVersion).toBe(dockerVersion);
    expect(info.os).toMatch(/Debian|Ubuntu|Linux/);
    expect(info.agentVersion).toBe('0.1.0');
  });
});
