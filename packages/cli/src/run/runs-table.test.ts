import { describe, expect, it } from 'vitest';
import { Run, type DeepPartial } from '@dstack/core/gen/daemon';
import { inactivityLimit, runError, runsTable } from './runs-table';

const NOW = Date.UTC(2025, 5, 15, 12, 0, 0);

function vscodeRun(over: DeepPartial<Run> = {}): Run {
  const base: DeepPartial<Run> = {
    name: 'vscode',
    status: 'running',
    backend: 'cudo',
    price: 0.0286,
    submittedMs: NOW - 8 * 60_000,
    resources: { cpus: 2, memoryGb: 8, diskGb: 100, gpus: [] },
    activity: { inactiveSeconds: 154 },
    configuration: { name: 'vscode', inactivityDuration: 7200 },
  };
  return Run.fromPartial({ ...base, ...over });
}

describe('runsTable', () => {
  it('prints `ps --verbose` exactly as the seed page shows it', () => {
    expect(runsTable([vscodeRun()], { verbose: true, now: NOW })).toBe(
      [
        ' NAME    BACKEND  RESOURCES       PRICE    STATUS                 SUBMITTED',
        ' vscode  cudo     2xCPU, 8GB,     $0.0286  running                8 mins ago',
        '                  100.0GB (disk)           (inactive for 2m 34s)',
        '',
      ].join('\n'),
    );
  });

  it('lists a run’s volumes with -v, one a line, and only then', () => {
    const withVolumes = vscodeRun({
      activity: { inactiveSeconds: 0 },
      configuration: { name: 'vscode', volumes: ['/mnt/cache:/root/.cache', '/srv/data:/data (optional)'] },
    });
    expect(runsTable([withVolumes], { verbose: true, now: NOW })).toBe(
      [
        ' NAME    BACKEND  RESOURCES       PRICE    STATUS   SUBMITTED   VOLUMES',
        ' vscode  cudo     2xCPU, 8GB,     $0.0286  running  8 mins ago  /mnt/cache:/root/.cache',
        '                  100.0GB (disk)                                /srv/data:/data (optional)',
        '',
      ].join('\n'),
    );
    expect(runsTable([withVolumes], { now: NOW })).not.toContain('VOLUMES');
    expect(runsTable([vscodeRun()], { verbose: true, now: NOW })).not.toContain('VOLUMES');
  });

  it('names a cloud run’s region, instance type and spot with -v, and only then', () => {
    const lambda = vscodeRun({
      backend: 'lambda',
      region: 'us-east-1',
      instanceType: 'gpu_1x_a10',
      price: 0.75,
      activity: { inactiveSeconds: 0 },
    });
    const local = vscodeRun({
      name: 'here',
      backend: 'local',
      region: 'local',
      instanceType: 'local',
      price: 0,
      activity: { inactiveSeconds: 0 },
    });
    expect(runsTable([lambda, local], { verbose: true, now: NOW })).toBe(
      [
        ' NAME    BACKEND             INSTANCE TYPE  RESOURCES       SPOT  PRICE  STATUS   SUBMITTED',
        ' vscode  lambda (us-east-1)  gpu_1x_a10     2xCPU, 8GB,     no    $0.75  running  8 mins ago',
        '                                            100.0GB (disk)',
        ' here    local                              2xCPU, 8GB,           $0     running  8 mins ago',
        '                                            100.0GB (disk)',
        '',
      ].join('\n'),
    );
    expect(runsTable([lambda], { now: NOW })).toContain(' vscode  lambda   2xCPU');
  });

  it('keeps resources on one line and leaves inactivity out without -v', () => {
    expect(runsTable([vscodeRun()], { now: NOW })).toBe(
      [
        ' NAME    BACKEND  RESOURCES                   PRICE    STATUS   SUBMITTED',
        ' vscode  cudo     2xCPU, 8GB, 100.0GB (disk)  $0.0286  running  8 mins ago',
        '',
      ].join('\n'),
    );
  });

  it('shows inactivity only when inactivity_duration is set and the time is known', () => {
    const untracked = vscodeRun({ configuration: { inactivityDuration: 0 } });
    expect(runsTable([untracked], { verbose: true, now: NOW })).not.toContain('inactive for');
    const unknown = vscodeRun({ activity: { inactiveSeconds: -1 } });
    expect(runsTable([unknown], { verbose: true, now: NOW })).not.toContain('inactive for');
    expect(inactivityLimit(vscodeRun())).toBe(7200);
    expect(inactivityLimit(vscodeRun({ configuration: undefined }))).toBeUndefined();
  });

  it('adds an ERROR column with -v when a run ended for a reason', () => {
    const failed = vscodeRun({
      name: 'broken',
      status: 'failed',
      terminationReason: 'creating_container_error',
      statusMessage: 'image not found: nosuch/image',
      activity: undefined,
    });
    const text = runsTable([vscodeRun(), failed], { verbose: true, now: NOW });
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/ SUBMITTED +ERROR$/);
    expect(text).toContain('creating_container_error: image not found: nosuch/image');
    expect(runsTable([failed], { now: NOW })).not.toContain('ERROR');
  });

  it('leaves backend and price empty before a run has an instance', () => {
    const pending = Run.fromPartial({ name: 'new-run', status: 'submitted', submittedMs: NOW - 5000 });
    expect(runsTable([pending], { now: NOW })).toBe(
      ' NAME     BACKEND  RESOURCES  PRICE  STATUS     SUBMITTED\n new-run                             submitted  now\n',
    );
  });

  it('prints only the header for no runs', () => {
    expect(runsTable([], { now: NOW })).toBe(' NAME  BACKEND  RESOURCES  PRICE  STATUS  SUBMITTED\n');
  });
});

describe('runError', () => {
  it('is empty for active runs and joins reason and message for finished ones', () => {
    expect(runError(vscodeRun())).toBe('');
    expect(runError(vscodeRun({ status: 'terminated', terminationReason: 'inactivity_duration_exceeded' }))).toBe(
      'inactivity_duration_exceeded',
    );
    expect(runError(vscodeRun({ status: 'failed', terminationReason: 'x', statusMessage: 'x' }))).toBe('x');
  });
});
