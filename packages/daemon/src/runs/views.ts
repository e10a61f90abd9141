// Runs as the CLI sees them (daemon.proto Run): the stored row, the agent's last job status, live
// activity, the SSH alias and the IDE link.
import type { JobStatus } from '@dstack/core/gen/agent';
import type { Activity, Job, Resources, Run, SyncStatus } from '@dstack/core/gen/daemon';
import type { InstanceRecord, SshEndpoint } from '@dstack/backends/backend';
import type { RunRow } from '../state/runs-store';
import { inactiveSeconds, type ActivityState } from './activity';
import { jobStateName } from './job-state';
import { ideLink } from './job-spec';

export function parseJobStatus(json: string): JobStatus | undefined {
  if (!json) return undefined;
  try {
    return JSON.parse(json) as JobStatus;
  } catch {
    return undefined;
  }
}

function proxyString(p: SshEndpoint | undefined): string {
  return p ? `${p.user}@${p.hostname}:${p.port}` : '';
}

export function runningSeconds(row: RunRow, nowMs: number): number {
  const live = row.status === 'running' && row.runningSinceMs ? nowMs - row.runningSinceMs : 0;
  return Math.floor((row.runningMs + live) / 1000);
}

export function activityView(state: ActivityState | undefined, nowMs: number): Activity {
  const a = state?.agent;
  return {
    shellSessions: a?.shellSessions ?? 0,
    execSessions: a?.execSessions ?? 0,
    sftpSessions: a?.sftpSessions ?? 0,
    portForwards: a?.portForwards ?? 0,
    attachedClis: state?.attached ?? 0,
    inactiveSeconds: state ? inactiveSeconds(state, nowMs) : -1,
  };
}

export function runView(
  row: RunRow,
  opts: { activity?: ActivityState; instance?: InstanceRecord; sshReady: boolean; nowMs?: number; sync?: SyncStatus },
): Run {
  const now = opts.nowMs ?? Date.now();
  const st = parseJobStatus(row.jobJson);
  let config: { ide?: 'vscode' | 'cursor' | 'windsurf' | 'zed' | null } = {};
  try {
    config = JSON.parse(row.configurationJson);
  } catch {
    /* stored by us: always JSON */
  }
  let resources: Resources | undefined;
  try {
    resources = row.resourcesJson ? (JSON.parse(row.resourcesJson) as Resources) : undefined;
  } catch {
    resources = undefined;
  }
  const job: Job | undefined = row.jobId
    ? {
        jobId: row.jobId,
        attempt: row.attempt,
        status: st ? jobStateName(st.state) : 'submitted',
        statusMessage: st?.message ?? '',
        submittedMs: st?.submittedMs ?? 0,
        startedMs: st?.startedMs ?? 0,
        finishedMs: st?.finishedMs ?? 0,
        exitCode: st?.exitCode ?? 0,
        instanceName: opts.instance?.name ?? '',
        sshHost: st?.sshPort ? '127.0.0.1' : '',
        sshPort: st?.sshPort ?? 0,
        sshProxy: proxyString(opts.instance?.sshProxy),
        containerId: st?.containerId ?? '',
        workingDir: st?.workingDir ?? '',
      }
    : undefined;
  const alias = opts.sshReady ? row.name : '';
  return {
    id: row.id,
    name: row.name,
    status: row.status,
    terminationReason: row.terminationReason,
    statusMessage: row.statusMessage,
    submittedMs: row.submittedMs,
    finishedMs: row.finishedMs,
    backend: row.backend,
    region: row.region,
    resources,
    price: row.price,
    configurationJson: row.configurationJson,
    configurationPath: row.configurationPath,
    repoDir: row.repoDir,
    job,
    activity: row.status === 'running' ? activityView(opts.activity, now) : undefined,
    sshAlias: alias,
    ideLink: alias ? ideLink({ ide: config.ide ?? null }, alias, st?.workingDir ?? '') : '',
    sync: opts.sync,
    fleet: '',
    retryAtMs: row.retryAtMs,
    runningSeconds: runningSeconds(row, now),
  };
}

