// GPU clouds, against the Lambda API double (test/clouds/lambda-double.ts) with a provider's round
// trip added to every answer, its instances SSH test hosts (network namespaces with their own sshd;
// needs root and iproute2):
//  - the plan's offers (ListOffers on the daemon's socket, `backends: [lambda]`) over a catalog of
//    1,000 offers: warm (cached) next to the goal of 200 ms, and cold (right after the backend is
//    (re)added, so nothing is cached) next to one plain request to the double's /instance-types;
//  - apply -d → first `ssh NAME true` on the double's host next to the same on an SSH fleet host, with
//    the agent uploaded from here (the default), downloaded by the instance from `agent_url`, and on
//    an instance kept idle by the run before (idle_duration).
import { createReadStream, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { cliSandbox, loadBundle, median, report, requireBuilt, root, time, run } from './lib.mjs';

const LATENCY_MS = 150;

const SPECS = { vcpus: 8, memory_gib: 32, storage_gib: 100, gpus: 1 };

/** 100 instance types in 10 regions each: 1,000 offers. */
function catalog() {
  const gpus = ['A10 (24 GB PCIe)', 'A100 (40 GB SXM4)', 'H100 (80 GB SXM5)', 'A6000 (48 GB)'];
  return Array.from({ length: 100 }, (_, i) => ({
    name: `gpu_1x_t${i}`,
    gpu_description: gpus[i % gpus.length],
    price_cents_per_hour: 50 + i * 7,
    specs: SPECS,
    regions: Array.from({ length: 10 }, (_, r) => `region-${r}`),
  }));
}

export default async function cloudBench() {
  if (process.getuid?.() !== 0) throw new Error('needs root (network namespaces for the test hosts)');
  requireBuilt();
  const m = await loadBundle(
    'cloud',
    [
      "export { createTestHosts } from './test/harness/ssh-hosts.ts';",
      "export { startLambdaDouble } from './test/clouds/lambda-double.ts';",
      "export { DaemonClient } from './packages/core/src/gen/daemon.ts';",
      "export { credentials, Metadata } from '@grpc/grpc-js';",
    ].join('\n'),
  );
  const net = await m.createTestHosts([{ name: 'c1' }, { name: 'f1' }]);
  const types = catalog();
  // The fast double serves the apply: its catalog is small, its host the only one.
  const double = await m.startLambdaDouble({ hosts: [net.host('c1')], types, bootMs: 0, latencyMs: LATENCY_MS });
  const sb = cliSandbox('cloud', { dockerHost: 'unix:///nonexistent', config: 'cloud_boot_timeout: 60s\n' });
  const { dir, repo } = sb;
  const dstack = (args, opts = {}) => run(process.execPath, [join(root, 'dist/cli.cjs'), ...args], { env: sb.env, cwd: repo, ...opts });
  const addBackend = () =>
    dstack(['backend', 'add', 'lambda', '--api-url', double.url, '--ssh-user', 'root'], { input: `${double.apiKey}\n` });
  const client = new m.DaemonClient(`unix://${join(sb.dstackHome, 'daemon.sock')}`, m.credentials.createInsecure());
  const configuration = { path: '<bench>', text: 'type: dev-environment\nbackends: [lambda]\n', cwd: dir, env: [], callerEnv: {} };
  const listOffers = () =>
    new Promise((resolve, reject) =>
      client.listOffers({ configuration, maxOffers: 50 }, new m.Metadata(), (err, res) => (err ? reject(err) : resolve(res))),
    );
  try {
    await dstack(['daemon', 'start']);
    await addBackend();
    const first = await listOffers();
    if (first.totalOffers !== 1000) throw new Error(`expected 1000 offers, got ${first.totalOffers}: ${first.noOfferReasons}`);

    const warm = [];
    for (let i = 0; i < 15; i++) warm.push(await time(listOffers));
    report({ name: 'plan offers, 1,000 lambda offers, warm cache', value: median(warm), baseline: 200, baselineName: 'goal', goal: 1 });

    const cold = [];
    const direct = [];
    for (let i = 0; i < 5; i++) {
      await addBackend(); // a new backend: nothing cached
      cold.push(await time(listOffers));
      direct.push(
        await time(() =>
          fetch(`${double.url}/instance-types`, { headers: { Authorization: `Bearer ${double.apiKey}` } }).then((r) => r.json()),
        ),
      );
    }
    report({
      name: `plan offers, cold (the provider answers in ≥ ${LATENCY_MS} ms)`,
      value: median(cold),
      baseline: median(direct) + 100,
      baselineName: "one request to the provider's /instance-types + 100 ms",
      goal: 1,
    });

    // apply -d → first ssh: the double's host (the agent deployed fresh: a new instance has none) against a fleet host (agent there).
    writeFileSync(
      join(dir, 'fleet.dstack.yml'),
      [
        'type: fleet',
        'name: bench',
        'ssh_config:',
        '  user: root',
        `  identity_file: ${net.keyPath}`,
        '  hosts:',
        `    - ${net.host('f1').address}`,
        '',
      ].join('\n'),
    );
    await dstack(['apply', '-f', join(dir, 'fleet.dstack.yml'), '-y']);
    const res = ['resources:', '  cpu: 1..', '  memory: 1GB..', '  disk: 1GB..'];
    const cloudRuns = [];
    const fleetRuns = [];
    for (let i = 0; i < 3; i++) {
      for (const [where, extra, into] of [
        ['lambda', 'backends: [lambda]', cloudRuns],
        ['fleet', 'fleets: [bench]', fleetRuns],
      ]) {
        const name = `${where}-${i}`;
        const file = join(repo, `${name}.dstack.yml`);
        writeFileSync(file, ['type: dev-environment', `name: ${name}`, ...res, extra, ''].join('\n'));
        into.push(
          await time(async () => {
            await dstack(['apply', '-f', file, '-y', '-d']);
            await run('ssh', ['-F', sb.sshConfig, '-o', 'BatchMode=yes', name, 'true'], { env: sb.env });
          }),
        );
        await dstack(['stop', name, '-y']);
      }
    }
    // The same with agent_url: the instance fetches the agent from a server on its link to this machine.
    const server = createServer((req, res) =>
      createReadStream(join(root, 'dist/agent', req.url.slice(1)))
        .on('error', () => res.end())
        .pipe(res),
    );
    await new Promise((r) => server.listen(0, '0.0.0.0', r));
    const gateway = net.host('c1').address.replace(/\.2$/, '.1');
    await dstack(
      [
        'backend',
        'add',
        'lambda',
        '--api-url',
        double.url,
        '--ssh-user',
        'root',
        '--agent-url',
        `http://${gateway}:${server.address().port}/dstack-agent-linux-{arch}`,
      ],
      {
        input: `${double.apiKey}\n`,
      },
    );
    const urlRuns = [];
    for (let i = 0; i < 3; i++) {
      const name = `url-${i}`;
      const file = join(repo, `${name}.dstack.yml`);
      writeFileSync(file, ['type: dev-environment', `name: ${name}`, ...res, 'backends: [lambda]', ''].join('\n'));
      urlRuns.push(
        await time(async () => {
          await dstack(['apply', '-f', file, '-y', '-d']);
          await run('ssh', ['-F', sb.sshConfig, '-o', 'BatchMode=yes', name, 'true'], { env: sb.env });
        }),
      );
      await dstack(['stop', name, '-y']);
    }
    server.close();
    // A run placed on an instance kept idle by the run before it (idle_duration): nothing created, the agent there.
    const idleRuns = [];
    for (let i = 0; i <= 3; i++) {
      const name = `idle-${i}`;
      const file = join(repo, `${name}.dstack.yml`);
      writeFileSync(file, ['type: dev-environment', `name: ${name}`, ...res, 'backends: [lambda]', 'idle_duration: 10m', ''].join('\n'));
      const ms = await time(async () => {
        await dstack(['apply', '-f', file, '-y', '-d']);
        await run('ssh', ['-F', sb.sshConfig, '-o', 'BatchMode=yes', name, 'true'], { env: sb.env });
      });
      if (i > 0) idleRuns.push(ms); // the first one creates the instance
      await dstack(['stop', name, '-y']);
    }
    report({
      name: 'apply -d → first `ssh NAME true`, lambda double, an instance kept idle (idle_duration)',
      value: median(idleRuns),
      baseline: median(fleetRuns),
      baselineName: 'the same on an SSH fleet host (agent there)',
      goal: 1.2,
    });
    report({
      name: 'apply -d → first `ssh NAME true`, lambda double, the instance downloads the agent (agent_url)',
      value: median(urlRuns),
      baseline: median(fleetRuns),
      baselineName: 'the same on an SSH fleet host (agent there)',
      goal: 1.2,
    });
    report({
      name: 'apply -d → first `ssh NAME true`, lambda double (new instance: agent uploaded)',
      value: median(cloudRuns),
      baseline: median(fleetRuns),
      baselineName: 'the same on an SSH fleet host (agent there)',
      goal: 1.2,
    });
  } finally {
    client.close();
    await sb.cleanup();
    await double.close();
    await net.destroy();
  }
}
