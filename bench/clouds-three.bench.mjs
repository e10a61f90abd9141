// Three GPU clouds at once, against their API doubles (test/clouds/*-double.ts), each answer held
// back by a provider's round trip (Lambda 150 ms, RunPod 250 ms, Vast.ai 400 ms):
//  - the plan's offers (ListOffers on the daemon's socket, `backends: [lambda, runpod, vastai]`) over
//    1,000 offers from each: warm (cached) next to the goal of 200 ms, and cold (the three backends
//    just (re)added, nothing cached) next to the slowest provider's own catalog call, made directly
//    with the same client, + 100 ms;
//  - apply -d → first `ssh NAME true` on a RunPod pod (a container of the test engine in its own
//    network namespace: the bootstrap, sshd, the agent uploaded) next to the same on an SSH fleet
//    host that has the agent. Needs root, iproute2 and the test engine (`npm run test:e2e` once).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliSandbox, loadBundle, median, report, requireBuilt, requireTestEngine, root, time, run } from './lib.mjs';

const LATENCY = { lambda: 150, runpod: 250, vastai: 400 };
const SSHD_IMAGE = 'dstack-test/debian-sshd:bookworm-v1';

const GPUS = [
  ['A10 (24 GB PCIe)', 'NVIDIA A10', 'A10', 24],
  ['A100 (40 GB SXM4)', 'NVIDIA A100-SXM4-40GB', 'A100 SXM', 40],
  ['H100 (80 GB SXM5)', 'NVIDIA H100 80GB HBM3', 'H100 SXM', 80],
  ['RTX 4090 (24 GB)', 'NVIDIA GeForce RTX 4090', 'RTX 4090', 24],
];

/** Lambda: 100 types in 10 regions. */
function lambdaTypes() {
  return Array.from({ length: 100 }, (_, i) => ({
    name: `gpu_1x_t${i}`,
    gpu_description: GPUS[i % GPUS.length][0],
    price_cents_per_hour: 50 + i * 7,
    specs: { vcpus: 8, memory_gib: 32, storage_gib: 100, gpus: 1 },
    regions: Array.from({ length: 10 }, (_, r) => `region-${r}`),
  }));
}

/** RunPod: 250 GPU types × counts 1, 2, 4, 8. */
function runpodTypes() {
  return Array.from({ length: 250 }, (_, i) => ({
    id: `${GPUS[i % GPUS.length][1]} v${i}`,
    displayName: `${GPUS[i % GPUS.length][2]}`,
    memoryInGb: GPUS[i % GPUS.length][3],
    securePrice: 0.3 + i * 0.01,
    communityPrice: 0.2 + i * 0.01,
    stock: 10,
  }));
}

/** Vast.ai: 500 machines, each on demand and interruptible. */
function vastaiOffers() {
  return Array.from({ length: 500 }, (_, i) => ({
    id: 1000 + i,
    gpu_name: GPUS[i % GPUS.length][2],
    num_gpus: 1,
    gpu_ram: GPUS[i % GPUS.length][3] * 1024,
    cpu_cores_effective: 8,
    cpu_ram: 32768,
    disk_space: 100,
    dph_total: 0.15 + i * 0.003,
    min_bid: 0.1 + i * 0.002,
    geolocation: `Place ${i % 20}, US`,
  }));
}

export default async function cloudsThreeBench() {
  if (process.getuid?.() !== 0) throw new Error('needs root (network namespaces for the instances)');
  requireBuilt();
  await requireTestEngine(SSHD_IMAGE);
  const m = await loadBundle(
    'clouds-three',
    [
      "export { createTestHosts } from './test/harness/ssh-hosts.ts';",
      "export { containerInstances } from './test/clouds/container-instances.ts';",
      "export { startLambdaDouble } from './test/clouds/lambda-double.ts';",
      "export { startRunpodDouble } from './test/clouds/runpod-double.ts';",
      "export { startVastaiDouble } from './test/clouds/vastai-double.ts';",
      "export { LambdaApi } from './packages/backends/src/lambda/api.ts';",
      "export { LambdaCompute } from './packages/backends/src/lambda/compute.ts';",
      "export { RunpodApi } from './packages/backends/src/runpod/api.ts';",
      "export { RunpodCompute } from './packages/backends/src/runpod/compute.ts';",
      "export { VastaiApi } from './packages/backends/src/vastai/api.ts';",
      "export { VastaiCompute } from './packages/backends/src/vastai/compute.ts';",
      "export { DaemonClient } from './packages/core/src/gen/daemon.ts';",
      "export { credentials, Metadata } from '@grpc/grpc-js';",
    ].join('\n'),
  );
  const net = await m.createTestHosts([{ name: 'l1' }, { name: 'f1' }]);
  const instances = await m.containerInstances();
  const lambda = await m.startLambdaDouble({ hosts: [net.host('l1')], types: lambdaTypes(), bootMs: 0, latencyMs: LATENCY.lambda });
  const runpod = await m.startRunpodDouble({ instances, gpuTypes: runpodTypes(), bootMs: 0, latencyMs: LATENCY.runpod });
  const vastai = await m.startVastaiDouble({ instances, offers: vastaiOffers(), bootMs: 0, latencyMs: LATENCY.vastai });
  const sb = cliSandbox('clouds3', { dockerHost: 'unix:///nonexistent', config: 'cloud_boot_timeout: 60s\n' });
  const { dir, repo } = sb;
  const dstack = (args, opts = {}) => run(process.execPath, [join(root, 'dist/cli.cjs'), ...args], { env: sb.env, cwd: repo, ...opts });
  const addAll = async () => {
    await dstack(['backend', 'add', 'lambda', '--api-url', lambda.url, '--ssh-user', 'root'], { input: `${lambda.apiKey}\n` });
    await dstack(['backend', 'add', 'runpod', '--api-url', runpod.url], { input: `${runpod.apiKey}\n` });
    await dstack(['backend', 'add', 'vastai', '--api-url', vastai.url], { input: `${vastai.apiKey}\n` });
  };
  const client = new m.DaemonClient(`unix://${join(sb.dstackHome, 'daemon.sock')}`, m.credentials.createInsecure());
  const configuration = {
    path: '<bench>',
    text: 'type: dev-environment\nbackends: [lambda, runpod, vastai]\nspot_policy: auto\n',
    cwd: dir,
    env: [],
    callerEnv: {},
  };
  const listOffers = () =>
    new Promise((resolve, reject) =>
      client.listOffers({ configuration, maxOffers: 50 }, new m.Metadata(), (err, res) => (err ? reject(err) : resolve(res))),
    );
  // Each provider's catalog as the daemon's own client fetches it: the floor of a cold plan.
  const direct = {
    lambda: new m.LambdaCompute(new m.LambdaApi(lambda.apiKey, lambda.url), 'root'),
    runpod: new m.RunpodCompute(new m.RunpodApi(runpod.apiKey, runpod.url)),
    vastai: new m.VastaiCompute(new m.VastaiApi(vastai.apiKey, { baseUrl: vastai.url })),
  };
  try {
    await dstack(['daemon', 'start']);
    await addAll();
    const first = await listOffers();
    const counts = {};
    for (const [type, c] of Object.entries(direct)) counts[type] = (await c.offers()).length;
    if (first.totalOffers !== 3000 || Object.values(counts).some((n) => n !== 1000)) {
      throw new Error(
        `expected 1,000 offers from each provider, got ${JSON.stringify(counts)} (plan: ${first.totalOffers}): ${first.noOfferReasons}`,
      );
    }

    const warm = [];
    for (let i = 0; i < 15; i++) warm.push(await time(listOffers));
    report({
      name: 'plan offers, 3 providers × 1,000 offers, warm cache',
      value: median(warm),
      baseline: 200,
      baselineName: 'goal',
      goal: 1,
    });

    const cold = [];
    const slowest = [];
    for (let i = 0; i < 5; i++) {
      await addAll(); // new backends: nothing cached
      cold.push(await time(listOffers));
      const each = [];
      for (const c of Object.values(direct)) each.push(await time(() => c.offers()));
      slowest.push(Math.max(...each));
    }
    report({
      name: `plan offers, 3 providers, cold (round trips ${Object.values(LATENCY).join('/')} ms)`,
      value: median(cold),
      baseline: median(slowest) + 100,
      baselineName: "the slowest provider's catalog call + 100 ms",
      goal: 1,
    });

    // apply -d → first ssh: a RunPod pod (bootstrap, sshd, the agent uploaded) against a fleet host (agent there).
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
    const podRuns = [];
    const fleetRuns = [];
    for (let i = 0; i < 3; i++) {
      for (const [where, extra, into] of [
        ['runpod', `backends: [runpod]\nimage: ${SSHD_IMAGE}`, podRuns],
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
    report({
      name: `apply -d → first \`ssh NAME true\`, runpod double (new pod: bootstrap, agent uploaded; API round trip ${LATENCY.runpod} ms)`,
      value: median(podRuns),
      baseline: median(fleetRuns),
      baselineName: 'the same on an SSH fleet host (agent there)',
      goal: 1.2,
    });
  } finally {
    client.close();
    await sb.cleanup();
    await lambda.close();
    await runpod.close();
    await vastai.close();
    await instances.destroy();
    await net.destroy();
  }
}
