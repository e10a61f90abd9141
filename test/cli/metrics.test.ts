// `dstack metrics NAME` on a running local run (host mode: this machine has no GPU for a container,
// so the fake nvidia-smi, an idle two-GPU H200 host in the fixture's shape, sits on the PATH the
// daemon hands its agent). --json has the CPU and memory samples and the GPUs; the table has a row
// for each; the run's utilization_policy is shown. The policy ending a run is seen end to end in
// test/agent/metrics.test.ts (with a window under dstack's 5m minimum, which a file may not ask for).
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../harness/util';
import { dstack, gitRepo, mustDstack, runName, sandbox } from './helpers';

const FAKE_NVIDIA_SMI = `#!/bin/sh
case "$*" in
  *utilization.gpu*) printf '0, 0, 0, 143771\\n1, 0, 512, 143771\\n' ;;
  *) printf '0, NVIDIA H200, 143771, GPU-0ef4acf2-6c8a-9f62-41ae-bab5a590b314, 00000000:00:06.0, 9.0, 580.159.04\\n1, NVIDIA H200, 143771, GPU-1ef4acf2-6c8a-9f62-41ae-bab5a590b314, 00000000:00:07.0, 9.0, 580.159.04\\n' ;;
esac
`;

interface MetricsJson {
  runName?: string;
  intervalSeconds?: number;
  resources?: { cpus?: number };
  samples?: { cpuUsagePercent?: number; memoryWorkingSetBytes?: number; gpus?: { index?: number; memoryTotalBytes?: number }[] }[];
  utilizationPolicy?: { minGpuUtilization?: number; timeWindowSeconds?: number };
}

describe('dstack metrics', () => {
  it('shows the CPU, memory and GPU samples of a running run, as JSON and as a table', async () => {
    const sb = sandbox('metrics', { dockerHost: 'unix:///nonexistent' });
    const name = runName('metrics');
    try {
      writeFileSync(join(sb.dir, 'bin', 'nvidia-smi'), FAKE_NVIDIA_SMI);
      chmodSync(join(sb.dir, 'bin', 'nvidia-smi'), 0o755);
      const repo = await gitRepo(
        sb,
        [
          'type: dev-environment',
          `name: ${name}`,
          'utilization_policy:',
          '  min_gpu_utilization: 10',
          '  time_window: 5m',
          'init:',
          `  - nohup sh -c 'while :; do :; done' >/dev/null 2>&1 &`,
          '',
        ].join('\n'),
      );
      await mustDstack(sb, ['apply', '-f', '.dstack.yml', '-y', '-d'], { cwd: repo });

      const m = await waitFor(
        'a sample with the busy loop in it',
        async () => {
          const r = JSON.parse((await mustDstack(sb, ['metrics', name, '--json'])).stdout) as MetricsJson;
          return r.samples?.some((s) => (s.cpuUsagePercent ?? 0) > 20) ? r : undefined;
        },
        { timeoutMs: 90_000, intervalMs: 2000 },
      );
      expect(m.runName).toBe(name);
      expect(m.intervalSeconds).toBe(5);
      expect(m.resources?.cpus).toBeGreaterThan(0);
      expect(m.utilizationPolicy).toEqual({ minGpuUtilization: 10, timeWindowSeconds: 300 });
      const last = m.samples![m.samples!.length - 1];
      expect(last.memoryWorkingSetBytes).toBeGreaterThan(0);
      expect(last.gpus?.map((g) => [g.index ?? 0, g.memoryTotalBytes])).toEqual([
        [0, 143771 * 1024 * 1024],
        [1, 143771 * 1024 * 1024],
      ]);

      const table = (await mustDstack(sb, ['metrics', name])).stdout;
      expect(table).toMatch(/^ +UTILIZATION +MEMORY$/m);
      expect(table).toMatch(/^ cpu +[▁▂▃▄▅▆▇]+ \d+% +[▁▂▃▄▅▆▇]+ \d+(MB|GB)\/\d+GB$/m);
      expect(table).toMatch(/^ gpu=0 +[▁▂▃▄▅▆▇]+ 0% +[▁▂▃▄▅▆▇]+ 0MB\/140GB$/m);
      expect(table).toMatch(/^ gpu=1 +[▁▂▃▄▅▆▇]+ 0% +[▁▂▃▄▅▆▇]+ 512MB\/140GB$/m);
      expect(table).toContain('utilization_policy: the run ends when a GPU stays below 10% for 5m');

      const unknown = await dstack(sb, ['metrics', 'no-such-run']);
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toContain('no run named "no-such-run"');

      await mustDstack(sb, ['stop', name, '-y']);
      const stopped = await dstack(sb, ['metrics', name]);
      expect(stopped.code).not.toBe(0);
      expect(stopped.stderr).toMatch(/is terminated: metrics are kept by its agent only while its job runs/);
    } finally {
      await sb.cleanup();
    }
  });
});
