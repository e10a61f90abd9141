// The runs half of the daemon's API (daemon.proto): plan, apply (new, override, in-place), list,
// get, stop, delete, attach, logs, offers. Bad input is refused before anything is created.
import type { DevEnvironmentConfiguration } from '@dstack/core/config/index';
import type {
  ApplyRunRequest,
  AttachEvent,
  AttachRequest,
  GetLogsRequest,
  GetMetricsRequest,
  GetMetricsResponse,
  GetPlanRequest,
  ListOffersRequest,
  ListOffersResponse,
  LogEntry,
  Plan,
  Progress,
  Run,
} from '@dstack/core/gen/daemon';
import { generateRunName, isValidRunName } from '@dstack/core/names';
import { isActive, isFinished } from '@dstack/core/runs/status';
import type { Backend } from '@dstack/backends/backend';
import { randomUUID } from 'node:crypto';
import { checkRepoSize, listRepoFiles, repoId, RepoTooLargeError, type RepoListing } from '../code/repo-files';
import type { DaemonConfig } from '../config';
import { BadRequestError, ConflictError, NotFoundError, PreconditionError } from '@dstack/core/grpc';
import type { Logger } from '../logger';
import type { RunLogEntry, RunLogs } from '../logs/run-log';
import type { SecretBox } from '../secrets';
import type { RunRow, RunsStore } from '../state/runs-store';
import { readSource } from '../config-source';
import { changedFields, collectSecrets, isInPlace, maskConfiguration, revealConfiguration, type RunSecrets } from './configuration';
import type { RunController } from './controller';
import { redactRunSecrets } from './redaction';
import { runConfigurationView } from './views';
import { runMetrics } from './metrics';
import { isUsable } from '../fleets/preference';
import { volumeRefusal, type VolumeCatalog } from '../volumes/attach';
import { checkFilesAndRepos } from './job-files';
import { planOffers, type OfferRequirements } from './planner';

export interface Sink<T> {
  write(v: T): void;
  end(): void;
  /** Called once when the client goes away. */
  onClose(cb: () => void): void;
}

export interface RunServiceDeps {
  store: RunsStore;
  controller: RunController;
  backends: Backend[];
  logs: RunLogs;
  secrets: SecretBox;
  config: DaemonConfig;
  log: Logger;
  /** The daemon's volumes: a run's network volumes are looked up here when it is planned and applied. */
  volumes: VolumeCatalog;
  /** The user's secrets (`dstack secret`) for `${{ secrets.NAME }}`; none when left out. */
  userSecrets?: (name: string) => string | undefined;
}

const STOP_WAIT_MS = 90_000;

function toLogEntry(e: RunLogEntry): LogEntry {
  return { offset: e.offset, timeMs: e.timeMs, stream: e.stream, data: e.data };
}

export class RunService {
  constructor(private readonly d: RunServiceDeps) {}

  private byName(name: string): RunRow {
    const row = this.d.store.byName(name);
    if (!row) throw new NotFoundError(`no run named ${JSON.stringify(name)}: see \`dstack ps -a\``);
    return row;
  }

  private async repo(req: { repoDir: string; noRepo: boolean }): Promise<{ listing?: RepoListing; id: string }> {
    if (req.noRepo || !req.repoDir) return { id: '' };
    let listing: RepoListing;
    try {
      listing = await listRepoFiles(req.repoDir, { reuse: true });
    } catch (err) {
      throw new BadRequestError(`repo_dir ${req.repoDir}: ${(err as Error).message}`);
    }
    try {
      checkRepoSize(listing, this.d.config.repoSizeLimit);
    } catch (err) {
      if (err instanceof RepoTooLargeError) throw new PreconditionError(err.message);
      throw err;
    }
    return { listing, id: await repoId(listing) };
  }

  private runName(config: DevEnvironmentConfiguration, given: string): string {
    const name = given || config.name || generateRunName({ isTaken: (n) => Boolean(this.d.store.activeByName(n)) });
    if (!isValidRunName(name)) {
      throw new BadRequestError(`run name ${JSON.stringify(name)}: a lowercase letter, then 1 to 40 lowercase letters, digits or dashes`);
    }
    return name;
  }

  /** Differences from the active run, secrets compared by value. */
  private diff(current: RunRow, next: DevEnvironmentConfiguration, nextSecrets: RunSecrets): string[] {
    const curSecrets = current.secrets ? this.d.secrets.openJson<RunSecrets>(current.secrets) : { env: {} };
    return changedFields(revealConfiguration(current.configuration, curSecrets), revealConfiguration(next, nextSecrets));
  }

  /** The request's configuration, parsed and checked, with its secrets split out. */
  private source(req: GetPlanRequest | ApplyRunRequest, rpc: string) {
    const { config, secretEnv, secretRegistryUsername, path, warnings } = readSource(
      req.configuration,
      'dev-environment',
      rpc,
      this.d.userSecrets,
    );
    return { config, path, warnings, secrets: collectSecrets(config, secretEnv, secretRegistryUsername) };
  }

  async plan(req: GetPlanRequest): Promise<Plan> {
    const { config, path, secrets, warnings } = this.source(req, 'GetPlan');
    const name = this.runName(config, '');
    // files: and repos: (job-files.ts): read and checked; `repos:` may name the repo to upload.
    const repo = await this.repo(await checkFilesAndRepos(config, { path, text: req.configuration?.text }, req));
    const offers = await planOffers(this.d.backends, config, { volumes: this.d.volumes, max: req.maxOffers });
    // A run stopped with its container kept is the current one too: applying it as it was resumes it.
    const current = this.d.store.activeByName(name) ?? this.d.store.stoppedByName(name);
    const changed = current ? this.diff(current, config, secrets) : [];
    return {
      runName: name,
      offers: offers.offers,
      totalOffers: offers.total,
      currentRun: current ? this.d.controller.view(current) : undefined,
      configuration: runConfigurationView(maskConfiguration(config, secrets)),
      changedFields: changed,
      inPlace: Boolean(current) && isInPlace(changed),
      noOfferReasons: offers.reasons,
      backendErrors: offers.backendErrors,
      repoId: repo.id,
      repoFiles: repo.listing?.files.length ?? 0,
      repoBytes: repo.listing?.totalBytes ?? 0,
      warnings,
    };
  }

  async apply(req: ApplyRunRequest): Promise<Run> {
    const { config, path, secrets } = this.source(req, 'ApplyRun');
    const name = this.runName(config, req.runName);
    redactRunSecrets(this.d.log, secrets);
    const masked = maskConfiguration(config, secrets);
    const sealed = this.d.secrets.sealJson(secrets);

    const stopped = this.d.store.stoppedByName(name);
    if (stopped && !req.override) return this.resumeByApply(stopped, config, secrets, masked, sealed);
    const current = this.d.store.activeByName(name);
    if (current) {
      const changed = this.diff(current, config, secrets);
      if (req.updateInPlace) {
        if (!isInPlace(changed)) {
          throw new PreconditionError(
            `run ${name}: ${changed.join(', ')} cannot change without a restart (only inactivity_duration can): apply with override`,
          );
        }
        const row = await this.d.controller.updateInPlace(current.id, masked, sealed);
        return this.d.controller.view(row);
      }
      if (!req.override) {
        throw new ConflictError(
          `run ${name} is ${current.status}: apply with override to stop it and submit the new configuration` +
            (changed.length && isInPlace(changed) ? ', or update it in place' : ''),
        );
      }
    }
    // Everything that can be refused is checked before anything is created or stopped.
    const repo = await this.repo(await checkFilesAndRepos(config, { path, text: req.configuration?.text }, req));
    const offers = await planOffers(this.d.backends, config, { volumes: this.d.volumes });
    // A network volume that does not exist never will, whatever a retry waits for.
    const never = volumeRefusal(this.d.volumes, config.volumes);
    if (never) throw new PreconditionError(`run ${name}: ${never}`);
    if (!offers.offers.some(isUsable) && !config.retry?.on_events.includes('no-capacity')) {
      throw new PreconditionError(`no offer fits the run ${name}: ${offers.reasons.join('; ') || 'no backend has offers'}`);
    }
    if (stopped) {
      this.d.log.info(`run ${name}: discarding its kept container to submit anew`);
      await this.d.controller.discardKept(stopped, 'stopped_by_user');
    }
    if (current) {
      this.d.log.info(`run ${name}: stopping it to submit the new configuration`);
      await this.d.controller.end(current.id, 'stopped_by_user', 'replaced by a new configuration', { user: true });
      const after = this.d.store.get(current.id);
      if (after && isActive(after.status)) throw new PreconditionError(`run ${name} could not be stopped (${after.status}); try again`);
    }
    const row: RunRow = {
      id: randomUUID(),
      name,
      status: 'submitted',
      terminationReason: '',
      statusMessage: '',
      submittedMs: Date.now(),
      finishedMs: 0,
      configuration: masked,
      secrets: sealed,
      configurationPath: path,
      repoDir: repo.listing?.root ?? '',
      noRepo: !repo.listing,
      repoId: repo.id,
      ideVersion: req.ideVersion,
      attempt: 0,
      jobId: '',
      instanceKey: '',
      backend: '',
      region: '',
      price: 0,
      resourcesJson: '',
      retryAtMs: 0,
      runningMs: 0,
      runningSinceMs: 0,
      jobJson: '',
      sshAlias: '',
      gpuBlocks: '',
      keptJson: '',
    };
    try {
      this.d.store.insert(row);
    } catch (err) {
      if (/UNIQUE/.test((err as Error).message)) throw new ConflictError(`run ${name} was submitted meanwhile`);
      throw err;
    }
    this.d.controller.submitted(row);
    return this.d.controller.view(this.d.store.get(row.id)!);
  }

  /**
   * ApplyRun of a run stopped with its container kept, without override: the same configuration (or
   * one that differs only in what changes in place) resumes it; anything else is refused, naming how
   * to start it fresh.
   */
  private async resumeByApply(
    stopped: RunRow,
    config: DevEnvironmentConfiguration,
    secrets: RunSecrets,
    masked: DevEnvironmentConfiguration,
    sealed: Buffer,
  ): Promise<Run> {
    const name = stopped.name;
    const changed = this.diff(stopped, config, secrets);
    if (changed.length && !isInPlace(changed))
      throw new ConflictError(
        `run ${name} is stopped with its container kept, and ${changed.join(', ')} changed: apply with override to discard what it kept and start it fresh, or apply the configuration it ran with to resume it`,
      );
    const why = await this.d.controller.cannotResume(stopped);
    if (why) throw new PreconditionError(`run ${name} cannot resume: ${why}. Start it fresh: \`dstack delete ${name}\`, then apply again`);
    return this.d.controller.view(this.d.controller.resume(stopped, { masked, sealed }));
  }

  /** StartRun: a run stopped with its container kept starts again in it. */
  async start(name: string): Promise<Run> {
    const row = this.byName(name);
    if (row.status !== 'stopped') {
      if (isActive(row.status)) throw new PreconditionError(`run ${name} is ${row.status} already`);
      throw new PreconditionError(
        `run ${name} is ${row.status}: it kept nothing to start again (a run stopped with \`dstack stop\` on this machine or a fleet host keeps its container); apply its configuration to start it anew`,
      );
    }
    const why = await this.d.controller.cannotResume(row);
    if (why)
      throw new PreconditionError(
        `run ${name} cannot resume: ${why}. Start it fresh: \`dstack delete ${name}\`, then apply its configuration`,
      );
    return this.d.controller.view(this.d.controller.resume(row));
  }

  list(all: boolean): Run[] {
    // Runs stopped with their state are listed with the active ones: they hold a container.
    const rows = all ? this.d.store.list({ all }) : [...this.d.store.unfinished(), ...this.d.store.stopped()];
    return rows.sort((a, b) => b.submittedMs - a.submittedMs).map((r) => this.d.controller.view(r));
  }

  get(name: string): Run {
    return this.d.controller.view(this.byName(name));
  }

  /**
   * `keep` (`dstack stop`): the container stays where the instance can keep it (the run becomes
   * `stopped`); an abort (-x, dstack's meaning kept) ends it for good, also the kept container of a
   * run already stopped.
   */
  async stop(name: string, abort: boolean, keep = false): Promise<Run> {
    const row = this.byName(name);
    if (row.status === 'stopped' && abort) return this.d.controller.view(await this.d.controller.discardKept(row, 'aborted_by_user'));
    if (isFinished(row.status)) return this.d.controller.view(row);
    const done = this.d.controller.end(row.id, abort ? 'aborted_by_user' : 'stopped_by_user', '', {
      abort,
      user: true,
      keep: keep && !abort,
    });
    await Promise.race([done, new Promise((r) => setTimeout(r, STOP_WAIT_MS))]);
    return this.d.controller.view(this.d.store.get(row.id)!);
  }

  async delete(name: string): Promise<void> {
    const active = this.d.store.activeByName(name);
    if (active) throw new PreconditionError(`run ${name} is ${active.status}: stop it first (\`dstack stop ${name}\`)`);
    // Its kept container goes first (from the agent), then the records.
    const stopped = this.d.store.stoppedByName(name);
    if (stopped) await this.d.controller.discardKept(stopped, 'stopped_by_user');
    const finished = this.d.store.finishedByName(name);
    if (!finished.length) throw new NotFoundError(`no run named ${JSON.stringify(name)}: see \`dstack ps -a\``);
    for (const r of finished) this.d.controller.deleteFinished(r);
  }

  attach(req: AttachRequest, sink: Sink<AttachEvent>): void {
    const row = this.byName(req.name);
    const id = row.id;
    const c = this.d.controller;
    let closed = false;
    const cleanups: (() => void)[] = [];
    const close = () => {
      if (closed) return;
      closed = true;
      for (const f of cleanups) f();
    };
    sink.onClose(close);
    sink.write({ payload: { $case: 'run', value: c.view(row) } });
    if (isFinished(row.status) && req.noLogs) {
      close();
      sink.end();
      return;
    }
    if (req.countAsActivity && isActive(row.status)) {
      c.attachOpened(id);
      cleanups.push(() => c.attachClosed(id));
    }
    if (!req.noLogs) {
      const log = this.d.logs.get(id);
      for (const e of log.read({ fromOffset: req.logsFrom })) sink.write({ payload: { $case: 'log', value: toLogEntry(e) } });
      const onEntry = (e: RunLogEntry) => sink.write({ payload: { $case: 'log', value: toLogEntry(e) } });
      log.on('entry', onEntry);
      cleanups.push(() => log.off('entry', onEntry));
    }
    const progress = c.lastProgress(id);
    if (progress) sink.write({ payload: { $case: 'progress', value: progress } });
    const onRun = (runId: string, run: Run) => {
      if (runId !== id) return;
      sink.write({ payload: { $case: 'run', value: run } });
      if (isFinished(run.status)) {
        close();
        sink.end();
      }
    };
    const onProgress = (runId: string, p: Progress) => {
      if (runId === id) sink.write({ payload: { $case: 'progress', value: p } });
    };
    const onNotice = (runId: string, n: string) => {
      if (runId === id) sink.write({ payload: { $case: 'notice', value: n } });
    };
    c.on('run', onRun);
    c.on('progress', onProgress);
    c.on('notice', onNotice);
    cleanups.push(() => {
      c.off('run', onRun);
      c.off('progress', onProgress);
      c.off('notice', onNotice);
    });
    if (isFinished(row.status)) {
      close();
      sink.end();
    }
  }

  getLogs(req: GetLogsRequest, sink: Sink<LogEntry>): void {
    const row = this.byName(req.name);
    const log = this.d.logs.get(row.id);
    for (const e of log.read({ sinceMs: req.sinceMs })) sink.write(toLogEntry(e));
    if (!req.follow || isFinished(row.status)) {
      sink.end();
      return;
    }
    const onEntry = (e: RunLogEntry) => sink.write(toLogEntry(e));
    const onRun = (runId: string, run: Run) => {
      if (runId === row.id && isFinished(run.status)) {
        done();
        sink.end();
      }
    };
    const done = () => {
      log.off('entry', onEntry);
      this.d.controller.off('run', onRun);
    };
    log.on('entry', onEntry);
    this.d.controller.on('run', onRun);
    sink.onClose(done);
  }

  metrics(req: GetMetricsRequest): Promise<GetMetricsResponse> {
    return runMetrics(this.byName(req.name), this.d.controller, req.sinceMs);
  }

  async offers(req: ListOffersRequest): Promise<ListOffersResponse> {
    const { config: c } = readSource(req.configuration, 'dev-environment', 'ListOffers', this.d.userSecrets);
    const requirements: OfferRequirements = {
      resources: c.resources,
      spot_policy: c.spot_policy,
      max_price: c.max_price,
      backends: c.backends,
      regions: c.regions,
      instance_types: c.instance_types,
    };
    const plan = await planOffers(this.d.backends, requirements, { max: req.maxOffers });
    return { offers: plan.offers, totalOffers: plan.total, noOfferReasons: plan.reasons, backendErrors: plan.backendErrors };
  }

  activeCount(): number {
    return this.d.store.unfinished().length;
  }
}
