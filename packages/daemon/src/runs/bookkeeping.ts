// What the run controller's flows share: each run's in-memory state (activity, the flows in
// flight, the last progress), the job → run index for agent events, and the one way a run moves:
// committed to SQLite first, then told to listeners (`run`, `notice`, `progress` events).
import type { Progress, Run } from '@dstack/core/gen/daemon';
import type { DevEnvironmentConfiguration } from '@dstack/core/config/index';
import type { RunStatus } from '@dstack/core/runs/status';
import type { Backend, InstanceRecord } from '@dstack/backends/backend';
import type { Logger } from '../logger';
import type { LogStreamName, RunLogs } from '../logs/run-log';
import type { SecretBox } from '../secrets';
import type { SshConfigFiles } from '../ssh-config/config-files';
import type { InstancesStore } from '../state/instances-store';
import type { RunRow, RunsStore } from '../state/runs-store';
import type { ActivityState } from './activity';
import { revealConfiguration, type RunSecrets } from './configuration';
import { runView } from './views';

/** A run's state that lives only as long as the daemon: none of it needs to survive a restart. */
export interface Live {
  activity: ActivityState;
  abort?: AbortController;
  provisioning?: Promise<void>;
  ending?: Promise<void>;
  /** When a failed cleanup may be tried again. */
  cleanupAfterMs?: number;
  cleanupFailures: number;
  lastProgress?: Progress;
  /** A fetch of missed agent log lines is running; `refill`: run it once more when it ends. */
  filling?: boolean;
  refill?: boolean;
}

export interface RunBookDeps {
  store: RunsStore;
  instances: InstancesStore;
  backends: Backend[];
  ssh: SshConfigFiles;
  logs: RunLogs;
  secrets: SecretBox;
  log: Logger;
  /** The run's live sync, for its view (sync/service.ts). */
  syncStatus?: (runId: string) => Run['sync'];
}

/** The controller's events: `run` (a new view), `notice` (a line for attached CLIs), `progress`, `job:<id>`. */
export type Emit = (event: string, ...args: unknown[]) => void;

export class RunBook {
  readonly live = new Map<string, Live>();
  private readonly jobIndex = new Map<string, string>();

  constructor(
    private readonly d: RunBookDeps,
    private readonly emit: Emit,
  ) {}

  liveOf(runId: string): Live {
    let l = this.live.get(runId);
    if (!l) {
      l = { activity: { attached: 0 }, cleanupFailures: 0 };
      this.live.set(runId, l);
    }
    return l;
  }

  backend(type: string): Backend {
    const b = this.d.backends.find((x) => x.type === type);
    if (!b) throw new Error(`backend ${type} is not configured`);
    return b;
  }

  instanceOf(row: RunRow): InstanceRecord | undefined {
    return row.instanceKey ? this.d.instances.get(row.instanceKey)?.record : undefined;
  }

  secretsOf(row: RunRow): RunSecrets {
    return row.secrets ? this.d.secrets.openJson<RunSecrets>(row.secrets) : { env: {} };
  }

  configOf(row: RunRow): DevEnvironmentConfiguration {
    return revealConfiguration(row.configuration, this.secretsOf(row));
  }

  view(row: RunRow): Run {
    return runView(row, {
      activity: this.live.get(row.id)?.activity,
      instance: this.instanceOf(row),
      sshReady: row.status === 'running' && this.d.ssh.has(row.name),
      sync: this.d.syncStatus?.(row.id),
    });
  }

  /** Logs a line into the run's own log (stream `daemon`) and the daemon log. */
  say(row: Pick<RunRow, 'id' | 'name'>, message: string, stream: LogStreamName = 'daemon'): void {
    this.d.log.info(`run ${row.name}: ${message}`);
    this.d.logs.get(row.id).append({ timeMs: Date.now(), stream, data: Buffer.from(`${message}\n`) });
  }

  notice(row: RunRow, message: string): void {
    this.emit('notice', row.id, message);
  }

  /** The run's progress bar (pull, upload), kept for CLIs that attach later. */
  progress(runId: string, p: Progress): void {
    this.liveOf(runId).lastProgress = p;
    this.emit('progress', runId, p);
  }

  changed(row: RunRow): void {
    this.emit('run', row.id, this.view(row));
  }

  /** A job's status for anyone waiting on that job (`job:<id>` events). */
  jobStatus(jobId: string, status: unknown): void {
    this.emit(`job:${jobId}`, status);
  }

  /** The one way a run changes status: core's table decides (store.transition), then listeners hear it. */
  move(id: string, to: RunStatus, patch: Partial<RunRow> = {}): RunRow {
    const now = Date.now();
    const cur = this.d.store.get(id);
    if (cur && cur.status === 'running' && to !== 'running' && cur.runningSinceMs) {
      patch = { ...patch, runningMs: cur.runningMs + (now - cur.runningSinceMs), runningSinceMs: 0 };
    }
    const row = this.d.store.transition(id, to, patch, now);
    this.d.log.info(`run ${row.name}: ${cur?.status ?? '?'} → ${to}`, { reason: row.terminationReason || undefined });
    this.changed(row);
    return row;
  }

  indexJob(row: RunRow): void {
    if (row.jobId) this.jobIndex.set(row.jobId, row.id);
  }

  runForJob(jobId: string): RunRow | undefined {
    const id = this.jobIndex.get(jobId);
    const row = id ? this.d.store.get(id) : undefined;
    return row && row.jobId === jobId ? row : undefined;
  }
}
