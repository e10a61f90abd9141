// Fleet `blocks`, end to end: one SSH test host whose nvidia-smi (a stand-in script in the shape of
// the H200 fixture) reports two GPUs, in a fleet with `blocks: 2`. Two runs asking for one GPU each
// land on that one host at once, each seeing only its own GPU (CUDA_VISIBLE_DEVICES, the agent's
// DSTACK_GPUS_NUM) and, in `dstack metrics`, only its own GPU's samples; a third is told that no block
// is free; once a run ends, its block serves the next.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dstack, gitRepo, mustDstack, runName, ssh, type Sandbox } from '../cli/helpers';
import type { TestHostNetwork } from '../harness/ssh-hosts';
import { waitFor } from '../harness/util';
import { createTestHosts, devEnvYaml, fleetSandbox, fleetYaml } from './helpers';

// What the agent's host probe and its metrics ask nvidia-smi, answered as a two-GPU H200 host does.
const FAKE_NVIDIA_SMI = `case "$*" in
  *utilization.gpu*) printf '0, 0, 0, 143771\\n1, 0, 0, 143771\\n' ;;
  *) printf '0, NVIDIA H200, 143771, GPU-0ef4acf2-6c8a-9f62-41ae-bab5a590b314, 00000000:00:06.0, 9.0, 580.159.04\\n1, NVIDIA H200, 143771, GPU-1ef4acf2-6c8a-9f62-41ae-bab5a590b314, 00000000:00:07.0, 9.0, 580.159.04\\n' ;;
esac`;

describe('a fleet host split into blocks', () => {
  let net: TestHostNetwork;
  let sb: Sandbox;
  let repo: string;
  const fleet = runName('blocks');
  const runs = [runName('b1'), runName('b2'), runName('b3')];

  beforeAll(async () => {
    net = await createTestHosts([{ name: 'g1', scripts: { 'nvidia-smi': FAKE_NVIDIA_SMI } }]);
    sb = fleetSandbox('blocks');
    const file = join(sb.dir, 'fleet.dstack.yml');
    writeFileSync(file, `${fleetYaml(net, fleet, [net.host('g1')])}blocks: 2\n`);
    const res = await dstack(sb, ['apply', '-f', file, '-y'], { timeoutMs: 600_000 });
    expect(res.code, res.stderr + res.stdout).toBe(0);
    repo = await gitRepo(sb, devEnvYaml('unused'));
  });

  afterAll(async () => {
    await sb?.cleanup();
    await net?.destroy();
  });

  const apply = (name: string) => {
    const yaml = [
      'type: dev-environment',
      `name: ${name}`,
      `fleets: [${fleet}]`,
      'resources:',
      '  cpu: 1..',
      '  memory: 1GB..',
      '  disk: 1GB..',
      '  gpu: H200:1',
      '',
    ];
    writeFileSync(join(repo, `${name}.dstack.yml`), yaml.join('\n'));
    return dstack(sb, ['apply', '-f', `${name}.dstack.yml`, '-y', '-d'], { cwd: repo, timeoutMs: 300_000 });
  };
  const gpusOf = async (name: string) => (await ssh(sb, name, 'echo "$CUDA_VISIBLE_DEVICES/$DSTACK_GPUS_NUM"')).stdout.trim();

  it('two runs share the host, each with its own GPU; a third finds no free block; a freed block serves the next', async () => {
    for (const name of runs.slice(0, 2)) {
      const res = await apply(name);
      expect(res.code, res.stderr + res.stdout).toBe(0);
    }
    const seen = [await gpusOf(runs[0]), await gpusOf(runs[1])];
    expect(seen.sort()).toEqual(['0/1', '1/1']);
    // Each run's metrics sample its own GPU only (the host's nvidia-smi lists both).
    for (const name of runs.slice(0, 2)) {
      const own = Number((await gpusOf(name)).split('/')[0]);
      const sampled = await waitFor(`a GPU sample of ${name}`, async () => {
        const m = JSON.parse((await mustDstack(sb, ['metrics', name, '--json'])).stdout) as { samples?: { gpus?: { index?: number }[] }[] };
        return m.samples?.length ? m.samples.map((x) => (x.gpus ?? []).map((g) => g.index ?? 0)) : undefined;
      });
      expect(new Set(sampled.map((g) => g.join(',')))).toEqual(new Set([String(own)]));
    }

    const third = await apply(runs[2]);
    expect(third.code).not.toBe(0);
    expect(third.stdout + third.stderr).toMatch(/no free block/);

    const freed = (await gpusOf(runs[0])).split('/')[0];
    await mustDstack(sb, ['stop', runs[0], '-y']);
    const again = await apply(runs[2]);
    expect(again.code, again.stderr + again.stdout).toBe(0);
    expect(await gpusOf(runs[2])).toBe(`${freed}/1`);
  });
});
