// The agent upload to sshd hosts in network namespaces, each with its own PATH: its sha256 is checked
// on every host, with whatever tool the host has (here shasum, on a host without sha256sum), or, on a
// host with none, by the uploaded executable's own report; a copy damaged on the host (a gzip that
// adds a byte) is refused with an error naming the host, and never takes the agent's name.
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DEFAULT_LOG_ROTATION } from '@dstack/core/log-file';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fleetAgentPlacement } from '../../packages/backends/src/ssh-fleet/placement';
import { AgentBinaries } from '../../packages/daemon/src/agent/binaries';
import { deployAgent } from '../../packages/daemon/src/agent/deploy';
import type { Logger } from '../../packages/daemon/src/logger';
import { ROOT, requireBuilt } from '../harness/sandbox';
import { createTestHosts, type TestHostNetwork } from '../harness/ssh-hosts';
import { tempDir } from '../harness/util';
import { sshHostFor } from './connect';

const NO_SHA256 = ['sha256sum', 'shasum', 'openssl', 'busybox', 'python3', 'perl'];
/** gzip as it is, plus one byte more on what it unpacks: damage on the host's side. */
const BAD_GZIP = '/usr/bin/gzip "$@"; s=$?; printf x; exit $s';

function capture(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const add = (m: string) => lines.push(m);
  return { lines, log: { debug: add, info: add, warn: add, error: add, redact: () => {}, close: () => {} } };
}

describe('the agent upload, checked on hosts with and without sha256 tools', () => {
  let net: TestHostNetwork;
  const scratch = tempDir('agent-upload');
  const binaries = new AgentBinaries(join(ROOT, 'dist/agent'));

  beforeAll(async () => {
    requireBuilt(['dist/agent/dstack-agent-linux-x64'], 'agent upload');
    net = await createTestHosts([
      { name: 'shasum', without: ['sha256sum'] },
      { name: 'bare', without: NO_SHA256 },
      { name: 'damaged', scripts: { gzip: BAD_GZIP } },
      { name: 'bare-damaged', without: NO_SHA256, scripts: { gzip: BAD_GZIP } },
    ]);
  });

  afterAll(async () => {
    await net?.destroy();
    scratch.cleanup();
  });

  async function deploy(name: string) {
    const host = net.host(name);
    const conn = sshHostFor(net, host, join(scratch.path, 'known_hosts'));
    const { log, lines } = capture();
    const placement = fleetAgentPlacement('/root');
    const run = deployAgent({ conn, placement, binaries, bridgePath: join(scratch.path, `${name}.sock`), log });
    return { host, conn, lines, placement, run };
  }

  it('a host without sha256sum checks it with another tool (shasum); agent.stdout over its cap is rotated at the start', async () => {
    const stdout = join(net.host('shasum').homeDir, '.dstack-agent', 'agent.stdout');
    mkdirSync(dirname(stdout), { recursive: true, mode: 0o700 });
    writeFileSync(stdout, 'x'.repeat(DEFAULT_LOG_ROTATION.maxBytes + 1));
    const { host, conn, lines, placement, run } = await deploy('shasum');
    expect((await conn.exec('command -v sha256sum || echo none')).stdout.trim()).toBe('none');
    const agent = await run;
    try {
      expect(agent.uploaded).toBe(true);
      expect(agent.handshake.agentSha256).toBe(agent.binary.sha256);
      expect(lines).toContainEqual(`agent on ${conn.description}: upload checked (sha256 by the host's tools)`);
      expect((await host.exec(`test -x ${placement.binPath} && echo installed`)).stdout).toBe('installed\n');
      expect(statSync(`${stdout}.1`).size).toBe(DEFAULT_LOG_ROTATION.maxBytes + 1);
      expect(statSync(stdout).size).toBeLessThan(1000);
    } finally {
      agent.rpc.close();
      await agent.bridge.close();
      await conn.close();
    }
  });

  it('a host with no sha256 tool at all checks it by the agent’s own report', async () => {
    const { conn, lines, run } = await deploy('bare');
    expect((await conn.exec(`for t in ${NO_SHA256.join(' ')}; do command -v $t; done; echo end`)).stdout).toBe('end\n');
    const agent = await run;
    try {
      expect(agent.handshake.agentSha256).toBe(agent.binary.sha256);
      expect(lines).toContainEqual(`agent on ${conn.description}: upload checked (sha256 by its own report: the host has no sha256 tool)`);
    } finally {
      agent.rpc.close();
      await agent.bridge.close();
      await conn.close();
    }
  });

  for (const name of ['damaged', 'bare-damaged']) {
    it(`a copy damaged on the host is refused, naming the host (${name === 'damaged' ? "the host's sha256sum" : 'its own report'})`, async () => {
      const { host, conn, placement, run } = await deploy(name);
      const expected = (await binaries.forArch('x64')).sha256;
      const how =
        name === 'damaged'
          ? 'its sha256 is'
          : 'its sha256 by its own report \\(the host has no sha256sum, shasum, openssl, busybox, python3 or perl\\) is';
      try {
        await expect(run).rejects.toThrow(
          new RegExp(
            `^the agent uploaded to ${conn.description.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is corrupt: ${how} [0-9a-f]{64}, expected ${expected}$`,
          ),
        );
        // Neither the damaged copy nor anything under the agent's name is left to run.
        expect((await host.exec(`ls ${placement.binPath}* 2>/dev/null; echo end`)).stdout).toBe('end\n');
      } finally {
        await conn.close();
      }
    });
  }
});
