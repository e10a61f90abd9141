// SSH fleets: `dstack apply -f fleet.dstack.yml -y` on hosts that are network namespaces with their
// own sshd (the e2e harness, bundled here with esbuild; needs root and iproute2).
//  - First agent deploy to a host (connect, look, upload gzip'd, start, host info, through the CLI),
//    next to `scp` of the agent executable to that host over OpenSSH, in the same run.
//  - Second deploy to a host that has the agent (`apply --force`: nothing is uploaded), next to the same scp.
//  - A 3-host fleet apply next to a 1-host one: the hosts are deployed in parallel.
// Each first deploy starts from a host without the agent (`dstack fleet delete` removes it). The
// daemon keeps the compressed agent for 5 minutes, so after the first round the gzip is not redone
// (as for a user's daemon deploying several hosts or fleets in a row).
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliSandbox, loadBundle, median, report, requireBuilt, root, sh, time } from './lib.mjs';

const AGENT = join(root, 'dist/agent/dstack-agent-linux-x64');

function fleetYaml(net, name, hosts) {
  return [
    'type: fleet',
    `name: ${name}`,
    'ssh_config:',
    '  user: root',
    `  identity_file: ${net.keyPath}`,
    '  hosts:',
    ...hosts.map((h) => `    - ${h.address}`),
    '',
  ].join('\n');
}

export default async function fleetBench() {
  if (process.getuid?.() !== 0) throw new Error('needs root (network namespaces for the test hosts)');
  requireBuilt();
  const { createTestHosts } = await loadBundle('fleet-hosts', "export { createTestHosts } from './test/harness/ssh-hosts.ts';");
  const sb = cliSandbox('fleet', { dockerHost: 'unix:///nonexistent', config: '' });
  const { dir, dstack } = sb;
  const net = await createTestHosts([{ name: 'b1' }, { name: 'b2' }, { name: 'b3' }]);
  const hosts = ['b1', 'b2', 'b3'].map((n) => net.host(n));
  const sshOpts = [
    '-F',
    '/dev/null',
    '-i',
    net.keyPath,
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'BatchMode=yes',
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'LogLevel=ERROR',
  ];
  const scp = () => time(() => sh('scp', ['-q', ...sshOpts, AGENT, `root@${hosts[0].address}:/root/agent-scp`]));
  const file = (name, hs) => {
    const f = join(dir, `${name}.dstack.yml`);
    writeFileSync(f, fleetYaml(net, name, hs));
    return f;
  };
  try {
    dstack(['daemon', 'start']);
    const runs = 3;
    const first = [];
    const second = [];
    const scps = [];
    const one = [];
    const three = [];
    for (let i = 0; i < runs; i++) {
      // One host, fresh: the first deploy; then again with the agent there.
      const f1 = file(`one-${i}`, [hosts[0]]);
      first.push(await time(() => dstack(['apply', '-f', f1, '-y'])));
      second.push(await time(() => dstack(['apply', '-f', f1, '-y', '--force'])));
      dstack(['fleet', 'delete', `one-${i}`, '-y']);
      scps.push(await scp());
      // The same host count as the baseline of the 3-host apply, then three fresh hosts at once.
      const f1b = file(`solo-${i}`, [hosts[1]]);
      one.push(await time(() => dstack(['apply', '-f', f1b, '-y'])));
      dstack(['fleet', 'delete', `solo-${i}`, '-y']);
      const f3 = file(`three-${i}`, hosts);
      three.push(await time(() => dstack(['apply', '-f', f3, '-y'])));
      dstack(['fleet', 'delete', `three-${i}`, '-y']);
    }
    const mb = (statSync(AGENT).size / 1e6).toFixed(0);
    report({
      name: `first agent deploy to a host (apply, 1 host; ${mb} MB agent, gzip in transit)`,
      value: median(first),
      baseline: median(scps),
      baselineName: `scp of the agent (${mb} MB)`,
    });
    report({
      name: 'second deploy to a host that has the agent (apply --force, nothing uploaded)',
      value: median(second),
      baseline: median(scps),
      baselineName: 'scp of the agent',
    });
    report({
      name: '3-host fleet apply (fresh hosts, in parallel)',
      value: median(three),
      baseline: median(one),
      baselineName: '1-host fleet apply',
    });
  } finally {
    await sb.cleanup();
    await net.destroy();
  }
}
