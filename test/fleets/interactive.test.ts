// The fleet commands on a real terminal: apply asks about the host's key (OpenSSH's question, with its
// fingerprint), then `Create the fleet NAME? [y/n]:` after the plan, and shows each host's progress;
// delete asks first, and `n` leaves the fleet as it is.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runName, type Sandbox } from '../cli/helpers';
import { Terminal } from '../cli/pty';
import type { TestHostNetwork } from '../harness/ssh-hosts';
import { createTestHosts, fleetSandbox, fleetYaml, listFleets } from './helpers';

describe('fleets on a terminal', () => {
  let net: TestHostNetwork;
  let sb: Sandbox;
  const terms: Terminal[] = [];

  beforeAll(async () => {
    net = await createTestHosts([{ name: 't1' }]);
    sb = fleetSandbox('fleet-pty');
  });

  afterAll(async () => {
    for (const t of terms) t.kill();
    await sb?.cleanup();
    await net?.destroy();
  });

  it('apply plans, asks, and shows progress by host; delete asks and keeps the fleet on n', async () => {
    const name = runName('ptyfleet');
    const host = `root@${net.host('t1').address}:22`;
    writeFileSync(join(sb.dir, 'fleet.dstack.yml'), fleetYaml(net, name, [net.host('t1')]));
    const apply = new Terminal(sb, ['apply', '-f', 'fleet.dstack.yml']);
    terms.push(apply);
    await apply.expect(new RegExp(` Fleet  ${name}\\n\\n HOST +PROXY JUMP +ACTION\\n ${host.replace(/\./g, '\\.')} +- +add\\n`));
    await apply.expect(`The authenticity of host '${host}' can't be established.\nED25519 key fingerprint is SHA256:`);
    await apply.expect('Are you sure you want to continue connecting? [y/n]: ');
    apply.write('y\r');
    await apply.expect(`Create the fleet ${name}? [y/n]: `);
    apply.write('y\r');
    await apply.expect('Provisioning...');
    await apply.expect(`${host}  connecting`);
    await apply.expect(new RegExp(`${host.replace(/\./g, '\\.')}  \\d+xCPU.*; agent uploaded`), { timeoutMs: 120_000 });
    await apply.expect(/ +instance=0 +\d+xCPU.* idle /);
    expect((await apply.exited).exitCode).toBe(0);

    const no = new Terminal(sb, ['fleet', 'delete', name]);
    terms.push(no);
    await no.expect(`Delete the fleet ${name}? [y/n]: `);
    no.write('n\r');
    await no.expect('Exiting...');
    expect((await no.exited).exitCode).toBe(0);
    expect((await listFleets(sb)).map((f) => f.name)).toEqual([name]);

    const yes = new Terminal(sb, ['fleet', 'delete', name]);
    terms.push(yes);
    await yes.expect(`Delete the fleet ${name}? [y/n]: `);
    yes.write('y\r');
    await yes.expect(`Fleet ${name} deleted`, { timeoutMs: 120_000 });
    expect((await yes.exited).exitCode).toBe(0);
    expect(await listFleets(sb)).toEqual([]);
  });
});
