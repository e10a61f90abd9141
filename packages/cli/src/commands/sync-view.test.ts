import { describe, expect, it } from 'vitest';
import { Run, SyncStatus, type DeepPartial } from '@dstack/core/gen/daemon';
import { runsTable } from '../run/runs-table';
import { syncReport, syncStatusLines } from './sync-view';

const NOW = Date.UTC(2025, 5, 15, 12, 0, 0);

function vscodeRun(over: DeepPartial<Run> = {}): Run {
  return Run.fromPartial({
    name: 'vscode',
    status: 'running',
    backend: 'cudo',
    price: 0.0286,
    submittedMs: NOW - 8 * 60_000,
    resources: { cpus: 2, memoryGb: 8, diskGb: 100, gpus: [] },
    activity: { inactiveSeconds: 154 },
    configuration: { name: 'vscode', inactivityDuration: 7200 },
    ...over,
  });
}

const watching: DeepPartial<SyncStatus> = {
  runName: 'vscode',
  state: 'watching',
  pending: 0,
  lastSyncedMs: NOW - 42_000,
  filesSynced: 12,
  batches: 4,
  roundTrips: 11,
  repoDir: '/home/me/repo',
  remoteDir: '/workflow',
  conflicts: [{ path: 'train.py', keptAs: 'train.py.remote-conflict', timeMs: NOW - 120_000 }],
};

describe('sync in `dstack ps -v`', () => {
  it('adds the sync lines under the status, after the inactivity line of the seed layout', () => {
    expect(runsTable([vscodeRun({ sync: watching })], { verbose: true, now: NOW })).toBe(
      [
        ' NAME    BACKEND  RESOURCES       PRICE    STATUS                    SUBMITTED',
        ' vscode  cudo     2xCPU, 8GB,     $0.0286  running                   8 mins ago',
        '                  100.0GB (disk)           (inactive for 2m 34s)',
        '                                           (sync: watching)',
        '                                           (last synced 42 sec ago)',
        '                                           (1 conflict)',
        '',
      ].join('\n'),
    );
  });

  it('leaves runs without sync (or with sync off) exactly as before, and shows nothing without -v', () => {
    const seed = runsTable([vscodeRun()], { verbose: true, now: NOW });
    expect(runsTable([vscodeRun({ sync: { ...watching, state: 'off' } })], { verbose: true, now: NOW })).toBe(seed);
    expect(runsTable([vscodeRun({ sync: watching })], { now: NOW })).toBe(runsTable([vscodeRun()], { now: NOW }));
  });

  it('says what is pending, and a short error', () => {
    expect(syncStatusLines(SyncStatus.fromPartial({ state: 'syncing', pending: 5000, lastSyncedMs: 0 }), NOW)).toEqual([
      '(sync: syncing)',
      '(5000 pending)',
      '(not synced yet)',
    ]);
    const err = syncStatusLines(SyncStatus.fromPartial({ state: 'error', error: '14 UNAVAILABLE: No connection established' }), NOW);
    expect(err[0]).toBe('(sync: error: 14 UNAVAILABLE: No conn…)');
  });
});

describe('dstack sync NAME', () => {
  it('prints where files go, counts, and which copy of a conflict is where', () => {
    expect(syncReport(SyncStatus.fromPartial(watching), NOW)).toBe(
      [
        'Sync of vscode: watching',
        '  local:       /home/me/repo',
        '  remote:      vscode:/workflow',
        '  pending:     0',
        '  last synced: 42 sec ago (12 files in 4 batches, 11 agent round trips)',
        "  conflicts:   1 (the instance's version is kept as shown; the path itself follows your local copy)",
        '    train.py → train.py.remote-conflict (2 mins ago)',
        '',
      ].join('\n'),
    );
    expect(syncReport(SyncStatus.fromPartial({ runName: 'vscode', state: 'off', error: 'the run terminated', repoDir: '/r' }), NOW)).toBe(
      'Sync of vscode: off (the run terminated)\n  local:       /r\n',
    );
  });
});
