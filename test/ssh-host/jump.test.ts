// SshHost to a host that only a jump host can reach: both hops are real sshd hosts in network
// namespaces, and this machine has no route to the target.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileHostKeyStore, SshHost, SshUnreachableError } from '../../packages/backends/src/ssh-client/index';
import { createTestHosts, type TestHostNetwork } from '../harness/ssh-hosts';
import { tempDir } from '../harness/util';
import { sshHostFor } from './connect';
import { hostConnectionSuite, type SuiteContext } from './host-suite';

describe('SshHost through a jump host', () => {
  let net: TestHostNetwork;
  let ctx: SuiteContext;
  const scratch = tempDir('ssh-jump');
  const knownHostsFile = join(scratch.path, 'ssh', 'fleet_known_hosts');

  beforeAll(async () => {
    net = await createTestHosts([{ name: 'j1' }, { name: 'h3', via: 'j1' }]);
    const host = net.host('h3');
    const conn = sshHostFor(net, host, knownHostsFile);
    ctx = { conn, host, dir: scratch.path };
  });

  afterAll(async () => {
    await ctx?.conn.close();
    await net?.destroy();
    scratch.cleanup();
  });

  it('names both hops in its description', () => {
    const [jump, host] = [net.host('j1'), net.host('h3')];
    expect(ctx.conn.description).toBe(`ssh root@${host.address}:22 via root@${jump.address}:22`);
  });

  it('cannot reach the target without the jump host', async () => {
    const direct = new SshHost({
      hostname: net.host('h3').address,
      user: 'root',
      identityFile: net.keyPath,
      knownHosts: new FileHostKeyStore(join(scratch.path, 'direct_known_hosts')),
      connectTimeoutMs: 3000,
    });
    await expect(direct.exec('true')).rejects.toBeInstanceOf(SshUnreachableError);
    await direct.close();
  });

  hostConnectionSuite(() => ctx);

  it('recorded the host keys of both hops', () => {
    const lines = readFileSync(knownHostsFile, 'utf8').trim().split('\n');
    const hostKeyOf = (name: string) =>
      readFileSync(join(net.dir, name, 'host_key.pub'), 'utf8')
        .split(' ')
        .slice(0, 2)
        .join(' ');
    expect(lines.sort()).toEqual([`${net.host('j1').address} ${hostKeyOf('j1')}`, `${net.host('h3').address} ${hostKeyOf('h3')}`].sort());
  });
});
