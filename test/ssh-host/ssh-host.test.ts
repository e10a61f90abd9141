// SshHost against a real OpenSSH sshd in its own network namespace, reached directly.
import { afterAll, beforeAll, describe } from 'vitest';
import { createTestHosts, type TestHostNetwork } from '../harness/ssh-hosts';
import { tempDir } from '../harness/util';
import { sshHostFor } from './connect';
import { hostConnectionSuite, type SuiteContext } from './host-suite';

describe('SshHost to a directly reachable host', () => {
  let net: TestHostNetwork;
  let ctx: SuiteContext;
  const scratch = tempDir('ssh-host');

  beforeAll(async () => {
    net = await createTestHosts([{ name: 'h1' }]);
    const host = net.host('h1');
    const conn = sshHostFor(net, host, `${scratch.path}/known_hosts`);
    ctx = { conn, host, dir: scratch.path };
  });

  afterAll(async () => {
    await ctx?.conn.close();
    await net?.destroy();
    scratch.cleanup();
  });

  hostConnectionSuite(() => ctx);
});
