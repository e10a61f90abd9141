import { describe, expect, it } from 'vitest';
import type { Fleet, Instance } from '@dstack/core/gen/daemon';
import { detachedWarning, fleetsTable } from './fleet-table';

const now = Date.parse('2025-01-01T12:00:00Z');
const instance = (num: number, extra: Partial<Instance> = {}): Instance => ({
  name: `gpus-${num}`,
  hostname: `10.0.0.${num + 1}`,
  port: 22,
  status: 'idle',
  statusMessage: '',
  resources: {
    cpus: 16,
    cpuArch: 'x86',
    memoryGb: 128,
    diskGb: 500,
    gpus: [{ vendor: 'nvidia', name: 'H200', memoryGb: 140.4, count: 1 }],
    spot: false,
  },
  price: 0,
  runName: '',
  arch: 'x86',
  agentVersion: '0.1.0',
  createdMs: now - 3 * 60_000,
  agentSupervisor: 'systemd',
  sshProxy: '',
  instanceNum: num,
  user: 'ubuntu',
  ...extra,
});

const fleet: Fleet = {
  name: 'gpus',
  status: 'active',
  backend: 'ssh',
  createdMs: now - 3 * 60_000,
  configurationJson: '{}',
  instances: [
    instance(0),
    instance(1, { status: 'busy', runName: 'vscode', sshProxy: 'root@10.0.9.1:22', agentSupervisor: 'detached' }),
    instance(2, { status: 'failed', resources: undefined, statusMessage: 'ssh ubuntu@10.0.0.3:22: unreachable', agentSupervisor: '' }),
  ],
};

describe('fleets table', () => {
  it("lays out a fleet and its hosts as dstack's fleet table", () => {
    expect(fleetsTable([fleet], { now })).toBe(
      [
        ' NAME           NODES  RESOURCES                                  BACKEND  PRICE  STATUS  CREATED',
        ' gpus           3      -                                          ssh      -      active  3 mins ago',
        '    instance=0         16xCPU, 128GB, H200:140GB, 500.0GB (disk)  ssh      -      idle    3 mins ago',
        '    instance=1         16xCPU, 128GB, H200:140GB, 500.0GB (disk)  ssh      -      busy    3 mins ago',
        '    instance=2         -                                          ssh      -      failed  3 mins ago',
        '',
      ].join('\n'),
    );
  });

  it('with -v, says where each host is, what runs on it, how its agent runs and why it failed', () => {
    const text = fleetsTable([fleet], { now, verbose: true });
    expect(text.split('\n')[0]).toMatch(/^ NAME\s+NODES\s+RESOURCES\s+BACKEND\s+PRICE\s+STATUS\s+CREATED\s+HOST\s+RUN\s+AGENT\s+ERROR$/);
    expect(text).toMatch(/instance=1 .* busy .* ubuntu@10\.0\.0\.2:22\s+vscode\s+detached/);
    expect(text).toMatch(/via root@10\.0\.9\.1:22/);
    expect(text).toMatch(/instance=2 .* failed .* ubuntu@10\.0\.0\.3:22\s+-\s+ssh ubuntu@10\.0\.0\.3:22: unreachable/);
    expect(detachedWarning([fleet])).toMatch(/^warning: on gpus-1 the agent runs as a detached process/);
    expect(detachedWarning([{ ...fleet, instances: [instance(0)] }])).toBe('');
  });
});
