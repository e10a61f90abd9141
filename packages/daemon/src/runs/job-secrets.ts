// Secrets an agent lost when it restarted: it keeps a job's secrets (secret env values, the registry
// password before the pull) in memory only, and reports awaiting_secrets once it has none; the
// daemon, which keeps them sealed in state.db, sends them again. The report comes with every
// (re)subscription to the agent's events and with reconcile's GetJob, so a restart of either side
// ends in the job getting them.
import { isFinished } from '@dstack/core/runs/status';
import type { AgentManager } from '../agent/manager';
import type { Logger } from '../logger';
import type { RunRow, RunsStore } from '../state/runs-store';
import type { RunBook } from './bookkeeping';

export interface JobSecretsDeps {
  book: Pick<RunBook, 'configOf' | 'secretsOf' | 'instanceOf'>;
  store: Pick<RunsStore, 'get'>;
  agents: Pick<AgentManager, 'connect'>;
  log: Logger;
}

/** Tries before giving up until the next report (1, 2, 4, 8 s apart). */
const ATTEMPTS = 5;

export class JobSecretsSender {
  /** Job ids with a send in flight. */
  private readonly sending = new Set<string>();

  constructor(private readonly d: JobSecretsDeps) {}

  /** Sends the run's secrets to its job's agent; a send already under way for the job is enough. */
  send(row: RunRow): void {
    if (this.sending.has(row.jobId)) return;
    this.sending.add(row.jobId);
    const jobId = row.jobId;
    void this.attempt(row.id, jobId, 0).finally(() => this.sending.delete(jobId));
  }

  private async attempt(runId: string, jobId: string, n: number): Promise<void> {
    const row = this.d.store.get(runId);
    const record = row && row.jobId === jobId && !isFinished(row.status) ? this.d.book.instanceOf(row) : undefined;
    if (!row || !record) return;
    try {
      const handle = await this.d.agents.connect(row.instanceKey, record);
      const auth = this.d.book.configOf(row).registry_auth;
      await handle.rpc.setJobSecrets({
        jobId,
        secretEnv: this.d.book.secretsOf(row).env,
        registryAuth: auth ? { username: auth.username, password: auth.password } : undefined,
      });
      this.d.log.info(`run ${row.name}: sent the job's secrets to its agent again (it restarted)`);
    } catch (err) {
      if (n + 1 >= ATTEMPTS) {
        this.d.log.warn(`run ${row.name}: could not send the job's secrets to its agent`, { error: (err as Error).message });
        return;
      }
      await new Promise((r) => setTimeout(r, 1000 * 2 ** n));
      await this.attempt(runId, jobId, n + 1);
    }
  }
}
