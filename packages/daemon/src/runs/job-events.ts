// What the agent says about a run's job: its status moves the run (job-state.ts's table), pull
// progress goes to attached CLIs, log lines into the run's log (a gap is fetched, not skipped),
// activity reports feed inactivity_duration. A running job with its SSH server up gets the run's
// Host block in ~/.ssh/config.
import type { Event, JobStatus } from '@dstack/core/gen/agent';
import { isFinished, reasonText } from '@dstack/core/runs/status';
import type { RunLogs } from '../logs/run-log';
import { ensureInclude, type SshConfigFiles } from '../ssh-config/config-files';
import { TransitionError, type RunRow, type RunsStore } from '../state/runs-store';
import type { RunBook } from './bookkeeping';
import type { Ending } from './ending';
import type { JobSecretsSender } from './job-secrets';
import { JOB_STATE_TO_RUN_STATUS, isJobFinished, reasonForEndedJob } from './job-state';
import { streamName, type LogGap } from './log-gap';

export interface JobEventsDeps {
  book: Pick<RunBook, 'liveOf' | 'runForJob' | 'move' | 'say' | 'notice' | 'progress' | 'changed' | 'jobStatus' | 'instanceOf'>;
  store: RunsStore;
  logs: RunLogs;
  ssh: SshConfigFiles;
  /** The user's home, for the Include line in ~/.ssh/config. */
  userHome: () => string;
  /** Ends the run's attempt when its job ends. */
  ending: Pick<Ending, 'end'>;
  /** Fetches agent log lines the daemon missed. */
  logGap: Pick<LogGap, 'fill'>;
  /** Sends the job's secrets again, to an agent that restarted. */
  secrets: Pick<JobSecretsSender, 'send'>;
}

export class JobEvents {
  constructor(private readonly d: JobEventsDeps) {}

  onAgentEvent(_key: string, ev: Event): void {
    const row = this.d.book.runForJob(ev.jobId);
    if (!row || !ev.payload) return;
    switch (ev.payload.$case) {
      case 'status':
        this.onJobStatus(row.id, ev.payload.value);
        break;
      case 'pull': {
        const p = ev.payload.value;
        this.d.book.progress(row.id, { kind: 'pull', current: p.current, total: p.total, message: p.status });
        break;
      }
      case 'log': {
        const l = ev.payload.value;
        const stream = streamName(l.stream);
        const log = this.d.logs.get(row.id);
        // Lines were missed (the stream dropped): fetch them, this one included, in order.
        if (l.offset > log.agentOffset(row.jobId) || this.d.book.liveOf(row.id).filling) void this.d.logGap.fill(row);
        else log.append({ timeMs: l.timeMs, stream, data: Buffer.from(l.data), jobId: row.jobId, agentOffset: l.offset });
        break;
      }
      case 'activity': {
        const live = this.d.book.liveOf(row.id);
        live.activity.agent = ev.payload.value;
        live.activity.agentAtMs = Date.now();
        break;
      }
    }
  }

  onJobStatus(runId: string, st: JobStatus): void {
    const { book } = this.d;
    let row = this.d.store.get(runId);
    if (!row || isFinished(row.status) || st.jobId !== row.jobId) return;
    // The kept job's last status (stopped, container kept), heard while the run resumes it: old news.
    if (st.kept && isJobFinished(st.state) && row.keptJson && row.status !== 'terminating') return;
    row = this.d.store.update(runId, { jobJson: JSON.stringify(st) });
    if (row.status === 'terminating' || row.status === 'submitted') {
      book.jobStatus(st.jobId, st);
      book.changed(row);
      return;
    }
    if (isJobFinished(st.state)) {
      const reason = reasonForEndedJob(st);
      void this.d.ending.end(runId, reason, st.message || reasonText(reason));
      return;
    }
    if (st.awaitingSecrets) this.d.secrets.send(row);
    const target = JOB_STATE_TO_RUN_STATUS[st.state];
    try {
      if (target === 'pulling' && row.status === 'provisioning') {
        row = book.move(runId, 'pulling');
        book.say(row, `Pulling ${st.runtime === 'host' ? '(host mode)' : 'the image'}`);
      } else if (target === 'running' && (row.status === 'provisioning' || row.status === 'pulling')) {
        row = book.move(runId, 'running', { runningSinceMs: Date.now() });
        book.say(row, `Running (${st.runtime || 'docker'}${st.containerId ? ` ${st.containerId.slice(0, 12)}` : ''})`);
      }
    } catch (err) {
      if (!(err instanceof TransitionError)) throw err;
    }
    if (row.status === 'running' && st.sshPort && st.sshHostKey) this.writeSsh(row, st);
    book.changed(row);
  }

  private writeSsh(row: RunRow, st: JobStatus): void {
    const { book, ssh } = this.d;
    const instance = book.instanceOf(row);
    const hostKeyAlias = `dstack-${row.name}-${row.jobId}`;
    const user = (row.configuration.user ?? '').split(':')[0] || 'root';
    const wasThere = ssh.has(row.name);
    ssh.upsert({
      alias: row.name,
      hostname: '127.0.0.1',
      port: st.sshPort,
      user,
      hostKey: st.sshHostKey,
      hostKeyAlias,
      proxy: instance?.sshProxy,
    });
    if (row.sshAlias !== row.name) this.d.store.update(row.id, { sshAlias: row.name });
    if (!wasThere) {
      const inc = ensureInclude(this.d.userHome(), ssh.configPath);
      if (inc.warning) {
        book.say(row, `warning: ${inc.warning}`);
        book.notice(row, inc.warning);
      }
      book.say(row, `SSH: ssh ${row.name}`);
    }
  }
}
