// Provisioning a run's attempt: an instance (the attempt's own, or one from the best offer), its
// agent, SubmitJob, then the code upload. Each step is committed before the next and every await
// is followed by a check that the run still wants it (a stop aborts the flow at its next step).
// SubmitJob is idempotent by job_id and uploads by hash, so a resumed flow simply runs again.
import { isFinished, retryDelayMs, shouldRetry, type RunStatus, type TerminationReason } from '@dstack/core/runs/status';
import { ContainerCreateError, NoCapacityError, type Backend, type InstanceRecord } from '@dstack/backends/backend';
import { blockGpuIndices, blockResources, formatGpuBlocks, parseGpuBlocks } from '@dstack/backends/ssh-fleet/blocks';
import type { Offer } from '@dstack/core/gen/daemon';
import type { AgentManager } from '../agent/manager';
import type { AgentRpc } from '../agent/rpc';
import type { HashCache } from '../code/hash-cache';
import { listRepoFiles } from '../code/repo-files';
import { uploadCode } from '../code/upload';
import type { DaemonConfig } from '../config';
import type { Logger } from '../logger';
import type { UserKey } from '../ssh-config/keys';
import { instanceKey, type InstancesStore } from '../state/instances-store';
import type { RunRow, RunsStore } from '../state/runs-store';
import { isUsable } from '../fleets/preference';
import { volumeAttachments, type VolumeCatalog } from '../volumes/attach';
import type { RunBook } from './bookkeeping';
import type { Ending } from './ending';
import type { JobEvents } from './job-events';
import { readJobFiles } from './job-files';
import { buildJobSpec, imageFor } from './job-spec';
import { keptOf } from './kept';
import { planOffers } from './planner';

/** What of the instance the run gets: all of it, or its blocks of a split fleet host (their GPUs by index). */
export function shareOf(record: InstanceRecord, gpuBlocks: string): { offer: Offer; gpuIndices: number[] } {
  const held = parseGpuBlocks(gpuBlocks);
  if (!held) return { offer: record.offer, gpuIndices: [] };
  const resources = blockResources(record.offer.resources, held.total, held.indices.length);
  return {
    offer: { ...record.offer, resources, blocks: held.indices.length, totalBlocks: held.total },
    gpuIndices: blockGpuIndices(record.offer.resources, held.total, held.indices),
  };
}

/** Offers tried in one attempt when providers answer no-capacity. */
const MAX_OFFERS_TRIED = 5;

/** How old the listing made at the flow's start may be when the upload begins. */
const FRESH_LISTING_MS = 2000;

/** The run no longer wants this flow (stopped, or the daemon is shutting down). */
class Aborted extends Error {}

export interface ProvisionDeps {
  book: Pick<
    RunBook,
    'liveOf' | 'instanceOf' | 'configOf' | 'secretsOf' | 'backend' | 'move' | 'say' | 'notice' | 'progress' | 'changed' | 'indexJob'
  >;
  store: RunsStore;
  instances: InstancesStore;
  agents: Pick<AgentManager, 'connect' | 'current'>;
  backends: Backend[];
  /** The daemon's volumes: the run's network volumes, attached to the instance and mounted in the job. */
  volumes: VolumeCatalog;
  userKey: UserKey;
  config: DaemonConfig;
  hashCache: HashCache;
  log: Logger;
  home: string;
  /** Takes the job's first status, from SubmitJob's answer. */
  jobEvents: Pick<JobEvents, 'onJobStatus'>;
  /** Ends the run's attempt after a failure. */
  ending: Pick<Ending, 'end'>;
}

export class Provisioner {
  constructor(private readonly d: ProvisionDeps) {}

  /** Starts the flow unless one (or the ending) is already under way; `resume`: the attempt is already provisioning. */
  start(runId: string, resume = false): void {
    const live = this.d.book.liveOf(runId);
    if (live.provisioning || live.ending) return;
    const abort = new AbortController();
    live.abort = abort;
    live.provisioning = this.flow(runId, abort.signal, resume)
      .catch((err: unknown) => this.failed(runId, err))
      .finally(() => {
        live.provisioning = undefined;
        live.abort = undefined;
      });
  }

  private check(runId: string, signal: AbortSignal, statuses: RunStatus[] = ['provisioning', 'pulling', 'running']): RunRow {
    const row = this.d.store.get(runId);
    if (signal.aborted || !row || !statuses.includes(row.status)) throw new Aborted();
    return row;
  }

  private async flow(runId: string, signal: AbortSignal, resume: boolean): Promise<void> {
    const { book } = this.d;
    let row = this.d.store.get(runId);
    if (!row) return;
    // Resumed from its kept container (dstack start): the same job on the same instance.
    const kept = keptOf(row);
    const resuming = Boolean(kept && !kept.pending && row.jobId && row.instanceKey);
    if (!resume) {
      if (row.status !== 'submitted') return;
      const attempt = row.attempt + 1;
      row = book.move(runId, 'provisioning', {
        attempt,
        // Persisted before SubmitJob: a daemon killed in between submits the same job again.
        jobId: resuming ? row.jobId : `${row.id.slice(0, 8)}-${attempt}`,
        retryAtMs: 0,
        statusMessage: '',
        jobJson: '',
      });
    }
    book.indexJob(row);
    const config = book.configOf(row);
    // The repo is listed and hashed while the instance, its agent and SubmitJob are under way.
    const hashed = row.noRepo ? undefined : this.hashRepo(row.repoDir);
    hashed?.catch(() => {}); // awaited by the upload, which reports its error

    // An instance: the one this attempt already has, or one from the best offer.
    let record = book.instanceOf(row);
    if (!record) {
      const plan = await planOffers(this.d.backends, config, { volumes: this.d.volumes });
      row = this.check(runId, signal);
      const usable = plan.offers.filter(isUsable);
      if (!usable.length) throw new NoCapacityError(plan.reasons.join('; ') || 'no offers');
      // An offer whose provider has no capacity after all: the next one, cheapest first (a few at most).
      const tried: string[] = [];
      let offer = usable[0];
      for (;;) {
        book.say(
          row,
          `Provisioning on ${offer.backend} (${offer.region}${offer.instanceType && offer.backend !== 'local' ? `, ${offer.instanceType}` : ''})`,
        );
        try {
          record = await book.backend(offer.backend).createInstance({
            offer,
            name: `${row.name}-0`,
            sshPublicKey: this.d.userKey.publicKey,
            image: imageFor(config, this.d.config.baseImage, this.d.config.dindImage),
            // The run's status message too, so `dstack ps` shows why it waits.
            report: (message) => {
              book.say(row!, message);
              book.changed(this.d.store.update(runId, { statusMessage: message }));
            },
            resources: config.resources,
            volumes: volumeAttachments(this.d.volumes, config.volumes, offer),
            ...(config.max_duration ? { maxDurationS: config.max_duration } : {}),
            signal,
          });
          break;
        } catch (err) {
          // A backend that stopped waiting because the run no longer wants it (stopped, or the daemon is shutting down).
          if (signal.aborted) throw new Aborted();
          if (!(err instanceof NoCapacityError)) throw err;
          tried.push((err as Error).message);
          row = this.check(runId, signal);
          const next = usable[tried.length];
          if (!next || tried.length >= MAX_OFFERS_TRIED) throw new NoCapacityError(tried.join('; '));
          book.say(row, `${(err as Error).message}; trying the next offer`);
          offer = next;
        }
      }
      const key = instanceKey(record.backend, record.instanceId);
      // The blocks of a split fleet host are the run's, not the host's record.
      const { blocks, ...hostRecord } = record;
      record = hostRecord;
      this.d.instances.upsert(record, 'busy');
      row = this.d.store.update(runId, {
        instanceKey: key,
        gpuBlocks: blocks ? formatGpuBlocks(blocks) : '',
        backend: offer.backend,
        region: offer.region,
        price: offer.price,
        resourcesJson: JSON.stringify(offer.resources ?? {}),
      });
      book.changed(row);
    }
    row = this.check(runId, signal);
    if (resuming) this.d.instances.setStatus(row.instanceKey, 'busy');
    const handle = await this.d.agents.connect(row.instanceKey, record, (_stage, message) => book.say(row!, message));
    this.d.instances.setAgent(row.instanceKey, {
      version: handle.handshake.agentVersion,
      sha256: handle.handshake.agentSha256,
      instanceId: handle.handshake.instanceId,
    });
    row = this.check(runId, signal);

    const share = shareOf(record, row.gpuBlocks);
    const spec = buildJobSpec({
      jobId: row.jobId,
      runId: row.id,
      runName: row.name,
      repoId: row.repoId,
      config,
      volumes: this.d.volumes,
      secretEnvNames: Object.keys(book.secretsOf(row).env),
      offer: share.offer,
      gpuIndices: share.gpuIndices,
      baseImage: this.d.config.baseImage,
      dindImage: this.d.config.dindImage,
      publicKey: this.d.userKey.publicKey,
      ideVersion: row.ideVersion,
      expectCode: !row.noRepo,
      home: this.d.home,
      sshServer: this.d.config.sshServer,
      ranMs: row.runningMs,
      // Read again now: what the job gets is the files as they are when it starts.
      files: await readJobFiles(config, { path: row.configurationPath }, row.noRepo ? '' : row.repoDir),
    });
    const job = await handle.rpc.submitJob(spec, undefined, resuming);
    if (job.status) this.d.jobEvents.onJobStatus(runId, job.status);
    row = this.check(runId, signal);
    if (hashed && !job.status?.codeReady) await this.upload(row, handle.rpc, signal, hashed, resuming);
    if (resuming) {
      // The code merged in: from now on the run is an ordinary running one (a stop may keep it again).
      this.d.store.update(runId, { keptJson: '' });
      book.say(row, `Resumed in its kept container on ${record.name}`);
    }
  }

  private async hashRepo(repoDir: string, reuse = true) {
    const listedMs = Date.now();
    const listing = await listRepoFiles(repoDir, { reuse });
    return { ...(await this.d.hashCache.hash(listing.files)), listedMs };
  }

  /**
   * `resuming`: into a kept container's code dir, which holds what was changed on the instance: only
   * what changed locally since the last upload goes, merged as live sync does (a file changed on both
   * sides keeps the instance's version as PATH.remote-conflict); the instance's own edits stay.
   */
  private async upload(
    row: RunRow,
    rpc: AgentRpc,
    signal: AbortSignal,
    hashed: ReturnType<Provisioner['hashRepo']>,
    resuming = false,
  ): Promise<void> {
    let early = await hashed;
    // An instance that took a while (a cloud one) gets the repo as it is now, edits made meanwhile included.
    if (Date.now() - early.listedMs > FRESH_LISTING_MS) early = await this.hashRepo(row.repoDir, false);
    const { files, rehashed } = early;
    this.check(row.id, signal);
    let last = 0;
    const res = await uploadCode(
      rpc,
      row.jobId,
      files,
      (p) => {
        const now = Date.now();
        if (now - last < 200 && p.current !== p.total) return;
        last = now;
        this.d.book.progress(row.id, { kind: 'upload', current: p.current, total: p.total, message: p.message });
      },
      resuming ? { full: true, localChangesOnly: true } : undefined,
    );
    this.d.book.progress(row.id, { kind: 'upload', current: res.sentBytes, total: res.sentBytes, message: 'uploaded' });
    this.d.book.say(row, `Uploaded the repo: ${res.files} files, ${res.sentBlobs} sent (${res.sentBytes} bytes), ${rehashed} rehashed`);
    for (const c of res.conflicts) {
      const line = `Changed here and on the instance: ${c.path}; the instance's version is kept there as ${c.keptAs}`;
      this.d.book.say(row, line);
      this.d.book.notice(row, line);
    }
  }

  private failed(runId: string, err: unknown): void {
    if (err instanceof Aborted) return;
    const row = this.d.store.get(runId);
    if (!row || isFinished(row.status) || row.status === 'terminating') return;
    const message = err instanceof Error ? err.message : String(err);
    this.d.log.warn(`run ${row.name}: provisioning failed`, { error: message });
    if (err instanceof NoCapacityError) {
      this.noCapacity(row, message);
      return;
    }
    const reason: TerminationReason =
      err instanceof ContainerCreateError
        ? 'creating_container_error'
        : row.status === 'provisioning' && !this.d.agents.current(row.instanceKey)
          ? 'instance_unreachable'
          : 'executor_error';
    void this.d.ending.end(runId, reason, message);
  }

  /** No offer fits: wait for a retry, or fail naming why. */
  private noCapacity(row: RunRow, reasons: string): void {
    const { book } = this.d;
    const config = book.configOf(row);
    const reason: TerminationReason = 'failed_to_start_due_to_no_capacity';
    const message = `no offer fits: ${reasons}`;
    book.say(row, message);
    if (shouldRetry(reason, config.retry, row.submittedMs, Date.now())) {
      const at = Date.now() + retryDelayMs(row.attempt);
      const next = book.move(row.id, 'submitted', { retryAtMs: at, statusMessage: message, jobId: '', instanceKey: '', gpuBlocks: '' });
      book.notice(next, `No capacity; retrying in ${Math.round((at - Date.now()) / 1000)}s (attempt ${row.attempt + 1})`);
      return;
    }
    // No job was ever submitted for this attempt: the run shows none.
    book.move(row.id, 'failed', { terminationReason: reason, statusMessage: message, finishedMs: Date.now(), jobId: '' });
  }
}
