// Runs as the CLI sees them (daemon.proto Run): the stored row, the agent's last job status, live
// activity, the SSH alias and the IDE link.
import type { JobStatus } from '@dstack/core/gen/agent';
import type { DevEnvironmentConfiguration } from '@dstack/core/config/types';
import type { Activity, Job, Resources, Run, RunConfiguration, SyncStatus } from '@dstack/core/gen/daemon';
import { formatResourcesSpec } from '@dstack/core/resources/format';
import { mountText } from '@dstack/core/config/volumes';
import type { InstanceRecord, SshEndpoint } from '@dstack/backends/backend';
import type { RunRow } from '../state/runs-store';
import { inactiveSeconds, type ActivityState } from './activity';
import { jobStateName } from './job-state';
import { ideLink } from './job-spec';
import { keptView } from './kept';

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

/** The configuration as Run views carry it (pass it masked): typed, 0 or "" where unset. */
export function runConfigurationView(c: DevEnvironmentConfiguration): RunConfiguration {
  return {
    name: c.name ?? '',
    image: c.image ?? '',
    python: c.python ?? '',
    ide: c.ide ?? '',
    version: c.version ?? '',
    ports: c.ports.map((p) => ({ localPort: p.local_port ?? 0, containerPort: p.container_port })),
    inactivityDuration: c.inactivity_duration ?? 0,
    maxDuration: c.max_duration ?? 0,
    idleDuration: c.idle_duration ?? 0,
    resources: formatResourcesSpec(c.resources),
    spotPolicy: c.spot_policy,
    maxPrice: c.max_price ?? 0,
    env: Object.fromEntries(Object.entries(c.env).map(([k, v]) => [k, v ?? ''])),
    init: c.init,
    workingDir: c.working_dir ?? '',
    user: c.user ?? '',
    shell: c.shell ?? '',
    privileged: c.privileged,
    backends: c.backends ?? [],
    fleets: c.fleets ?? [],
    volumes: c.volumes.map(mountText),
  };
}

export function runView(
  row: RunRow,
  opts: { activity?: ActivityState; instance?: InstanceRecord; sshReady: boolean; nowMs?: number; sync?: SyncStatus },
): Run {
  const now = opts.nowMs ?? Date.now();
  const st = parseJobStatus(row.jobJson);
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
    configuration: runConfigurationView(row.configuration),
    configurationPath: row.configurationPath,
    repoDir: row.repoDir,
    job,
    activity: row.status === 'running' ? activityView(opts.activity, now) : undefined,
    sshAlias: alias,
    ideLink: alias ? ideLink({ ide: row.configuration.ide }, alias, st?.workingDir ?? '') : '',
    sync: opts.sync,
    fleet: '',
    retryAtMs: row.retryAtMs,
    runningSeconds: runningSeconds(row, now),
    instanceType: opts.instance?.offer.instanceType ?? '',
    spot: opts.instance?.offer.spot ?? false,
    kept: keptView(row, opts.instance),
  };
}
