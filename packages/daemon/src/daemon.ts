// The daemon assembled: state, secrets, keys, backends, agents, the run controller, served on the
// socket start.ts bound (which answers Status meanwhile). startDaemon() returns once it serves every
// rpc; reconcile runs right after, while requests are already served.
import type { Server } from '@grpc/grpc-js';
import type { HostInfo } from '@dstack/core/gen/agent';
import { VERSION } from '@dstack/core/version';
import { LocalBackend, type Backend, type InstanceRecord } from '@dstack/backends/index';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { SshFleetBackend } from '@dstack/backends/ssh-fleet/index';
import { AgentBinaries, defaultAgentDir } from './agent/binaries';
import { AgentManager, type AgentHandle } from './agent/manager';
import type { DaemonConfig } from './config';
import type { Logger } from './logger';
import { RunLogs } from './logs/run-log';
import type { HomeLayout } from '@dstack/core/home-layout';
import { RunController } from './runs/controller';
import { FleetHosts } from './fleets/hosts';
import { FleetService } from './fleets/service';
import { FleetsStore } from './fleets/store';
import { RunService } from './runs/service';
import { redactStoredSecrets } from './runs/redaction';
import { SecretBox } from './secrets';
import { SecretService } from './secrets-service';
import { SecretsStore } from './state/secrets-store';
import { VolumeService } from './volumes/service';
import { VolumesStore } from './volumes/store';
import { handlers } from './server/grpc';
import type { EarlyDaemon } from './start';
import { SshConfigFiles } from './ssh-config/config-files';
import { HashCache } from './code/hash-cache';
import { SyncService } from './sync/service';
import { ensureUserKey } from './ssh-config/keys';
import { openDb, type Db } from './state/db';
import { isJobFinished } from './runs/job-state';
import { InstancesStore, instanceKey } from './state/instances-store';
import { RunsStore } from './state/runs-store';
import { FileHostKeyStore } from '@dstack/backends/ssh-client/known-hosts';
import { BackendService } from './backends/service';
import { CloudSweep } from './backends/cloud-sweep';
import { daemonId, instanceNamePrefix } from './backends/cloud-backends';
import { idleUntilOf } from '@dstack/backends/cloud/cloud-backend';

export interface DaemonOptions {
  early: EarlyDaemon;
  agentDir?: string;
  env?: NodeJS.ProcessEnv;
}

export interface RunningDaemon {
  paths: HomeLayout;
  log: Logger;
  config: DaemonConfig;
  /** Resolves when the daemon has stopped (Shutdown rpc, SIGTERM). */
  stopped: Promise<void>;
  stop(): Promise<void>;
}

const EMPTY_OFFER = {
  backend: 'local',
  region: 'local',
  instanceType: 'local',
  spot: false,
  price: 0,
  availability: 'available',
  instanceName: 'local',
  fleet: '',
};

/** Assembles the daemon on what startEarly (start.ts) made: its socket answers Status already. */
export async function startDaemon(opts: DaemonOptions): Promise<RunningDaemon> {
  const { paths, config, log, startedMs, releasePid, socket } = opts.early;

  let db: Db | undefined;
  const server: Server = socket.server;
  let agents: AgentManager | undefined;
  let controller: RunController | undefined;
  let fleetHosts: FleetHosts | undefined;
  let sync: SyncService | undefined;
  let sweep: CloudSweep | undefined;
  /** What the daemon did on its own, for the next CLI's Status. */
  const notices: string[] = [];
  let resolveStopped!: () => void;
  const stopped = new Promise<void>((r) => (resolveStopped = r));
  let stopping: Promise<void> | undefined;
  let stopIdleLocalAgent: () => Promise<void> = async () => {};

  const stop = () => {
    stopping ??= (async () => {
      log.info('daemon stopping (runs keep going on their agents)');
      await new Promise<void>((r) => {
        // Open streams (attached CLIs, `dstack sync NAME`) never end by themselves: cut them after a
        // moment; those CLIs reconnect to the next daemon.
        const force = setTimeout(() => {
          server.forceShutdown();
          r();
        }, 2000);
        server.tryShutdown(() => {
          clearTimeout(force);
          r();
        });
      });
      await sync?.close();
      fleetHosts?.stop();
      sweep?.stop();
      await controller?.shutdown();
      await stopIdleLocalAgent().catch((err: Error) => log.warn('could not stop the idle local agent', { error: err }));
      await agents?.closeAll();
      db?.close();
      rmSync(paths.socket, { force: true });
      releasePid();
      log.info('daemon stopped');
      log.close();
      resolveStopped();
    })();
    return stopping;
  };

  try {
    for (const dir of [paths.sshDir, paths.runDir, paths.runsDir, paths.localBackendDir]) mkdirSync(dir, { recursive: true, mode: 0o700 });
    db = openDb(paths.db);
    const store = new RunsStore(db);
    const instances = new InstancesStore(db);
    const secrets = SecretBox.open(paths.secretKey);
    // Before anything is logged about the runs applied by an earlier daemon.
    redactStoredSecrets(store, secrets, log);
    const userSecrets = new SecretService(new SecretsStore(db, secrets), log);
    const volumesStore = new VolumesStore(db);
    const userKey = ensureUserKey(paths.sshKey);
    const ssh = new SshConfigFiles(paths.sshConfig, paths.knownHosts, paths.sshKey);
    const logs = new RunLogs(paths.runsDir);

    const backends: Backend[] = [];
    const backendFor = (type: string) => {
      const b = backends.find((x) => x.type === type);
      if (!b) throw new Error(`backend ${type} is not configured`);
      return b;
    };
    agents = new AgentManager({
      runDir: paths.runDir,
      binaries: new AgentBinaries(opts.agentDir ?? defaultAgentDir(opts.env)),
      log,
      backendFor,
    });

    // This machine: its agent is deployed on first use (the first plan asks it for host info).
    let hostInfo: { at: number; info: HostInfo; agent: AgentHandle } | undefined;
    let localRecord: InstanceRecord | undefined;
    const local: LocalBackend = new LocalBackend({
      dir: paths.localBackendDir,
      env: opts.env,
      hostInfo: async () => {
        // Kept a while for the same agent (a plan and its apply ask twice); a restarted agent is asked again.
        const key = localRecord && instanceKey('local', localRecord.instanceId);
        if (hostInfo && key && hostInfo.agent === agents!.current(key) && Date.now() - hostInfo.at < 30_000) return hostInfo.info;
        localRecord ??= await local.createInstance({ offer: EMPTY_OFFER, name: 'local', sshPublicKey: userKey.publicKey });
        const handle = await agents!.connect(instanceKey('local', localRecord.instanceId), localRecord);
        const info = await handle.rpc.getHostInfo();
        hostInfo = { at: Date.now(), info, agent: handle };
        return info;
      },
    });
    backends.push(local);
    // This machine's agent goes with the daemon when no run needs it (an idle process left behind is
    // one the user never asked for); its data (blob cache, the last tree) stays for the next start.
    stopIdleLocalAgent = async () => {
      const record = localRecord ?? (await local.createInstance({ offer: EMPTY_OFFER, name: 'local', sshPublicKey: userKey.publicKey }));
      const key = instanceKey('local', record.instanceId);
      const handle = agents?.current(key);
      if (!handle || store.unfinished().some((r) => r.instanceKey === key)) return;
      const jobs = await handle.rpc.listJobs(5000);
      if (jobs.some((j) => j.status && !isJobFinished(j.status.state))) return;
      await handle.rpc.shutdown(false, 10_000);
      log.info('local agent stopped: no run needs it');
    };

    // The user's own hosts (`type: fleet`): one offer per idle host of an active fleet (fleets/).
    const grace = config.instanceUnreachableAfterMs;
    const fleetBackend = new SshFleetBackend({
      knownHostsFile: paths.fleetKnownHosts,
      // The user's own: a key OpenSSH already trusts for a host counts as known (HOME, as os.homedir() reads it).
      userKnownHostsFiles: () => [join(homedir(), '.ssh', 'known_hosts')],
      instances: () => fleetHosts?.states() ?? [],
      // A dead link is noticed well within the grace period, and a host that does not answer is given up as soon.
      keepalive: { intervalMs: Math.max(1000, Math.min(10_000, Math.floor(grace / 6))), countMax: 3 },
      connectTimeoutMs: Math.max(5000, Math.min(20_000, grace)),
    });
    backends.push(fleetBackend);

    // GPU clouds (`backends:` in config.yml): each instance named with this home's id, host keys pinned per instance.
    const boot = config.cloudBootTimeoutMs;
    const cloudBackends = new BackendService({
      configFile: paths.config,
      entries: config.backends,
      backends,
      cloud: {
        secrets,
        identityFile: paths.sshKey,
        hostKeys: new FileHostKeyStore(paths.fleetKnownHosts),
        namePrefix: instanceNamePrefix(daemonId(paths.daemonId)),
        log: (m) => log.info(m),
        idleInstances: (type) =>
          instances
            .list()
            .filter((i) => i.record.backend === type && i.status === 'idle' && idleUntilOf(i.record) > Date.now())
            .map((i) => i.record),
        tuning: { bootDeadlineMs: boot, pollMs: Math.max(500, Math.min(5000, Math.floor(boot / 60))) },
      },
      runs: store,
      instances,
      log,
    });

    controller = new RunController({
      db,
      store,
      instances,
      agents,
      backends,
      volumes: volumesStore,
      ssh,
      userKey,
      logs,
      secrets,
      config,
      log,
      home: paths.home,
      userHome: () => homedir(),
      alwaysSweep: async () => {
        const record = await local.createInstance({ offer: EMPTY_OFFER, name: 'local', sshPublicKey: userKey.publicKey });
        // Only an agent that runs already: a sweep never starts one.
        return existsSync(record.agent.socketPath) ? [{ key: instanceKey('local', record.instanceId), record }] : [];
      },
      syncStatus: (runId) => sync?.status(runId),
    });
    sync = new SyncService({
      db,
      runs: store,
      instances,
      agents,
      events: controller,
      hashCache: new HashCache(db),
      repoSizeLimit: config.repoSizeLimit,
      log,
    });
    const runs = new RunService({
      store,
      controller,
      backends,
      volumes: volumesStore,
      logs,
      secrets,
      config,
      log,
      userSecrets: userSecrets.lookup,
    });
    const fleetsStore = new FleetsStore(db);
    fleetHosts = new FleetHosts({ fleets: fleetsStore, instances, runs: store, agents, log });
    const ctl0 = controller;
    const fleets = new FleetService({
      backend: fleetBackend,
      agents,
      instances,
      log,
      fleets: fleetsStore,
      hosts: fleetHosts,
      userHome: () => homedir(),
      stopRun: (run, message) => ctl0.end(run.id, 'stopped_by_user', message, { user: true }),
    });
    fleetHosts.start();
    sweep = new CloudSweep({
      clouds: () => cloudBackends.clouds(),
      runs: store,
      instances,
      log,
      graceMs: Math.min(120_000, boot),
      forget: (key) => agents?.disconnect(key) ?? Promise.resolve(),
      // Kept for the next CLI (a few at most: the log has them all).
      notice: (m) => {
        notices.push(m);
        if (notices.length > 20) notices.shift();
      },
    });

    socket.serve(
      handlers({
        runs,
        fleets,
        sync,
        backends: cloudBackends,
        secrets: userSecrets,
        volumes: new VolumeService({
          store: volumesStore,
          backends: () => backends,
          activeRuns: () => [...store.unfinished(), ...store.stopped()],
          log,
        }),
        log,
        shutdown: () => void stop(),
        status: () => ({
          version: VERSION,
          pid: process.pid,
          home: paths.home,
          startedMs,
          logFile: paths.log,
          activeRuns: runs.activeCount(),
          backends: backends.map((b) => b.type),
          notices: notices.splice(0),
        }),
      }),
    );
    log.info('daemon ready', { since_start_ms: Math.round(performance.now()) });
    const ctl = controller;
    const syncs = sync;
    void ctl
      .reconcile()
      .catch((err: Error) => log.error('reconcile failed', { error: err }))
      .finally(() => {
        ctl.start();
        syncs.resume();
        sweep?.start(Math.max(5000, Math.min(180_000, boot)));
      });
  } catch (err) {
    log.error('daemon failed to start', { error: err as Error });
    socket.fail(`the dstack daemon failed to start: ${(err as Error).message} (log: ${paths.log})`);
    await stop();
    throw err;
  }
  return { paths, log, config, stopped, stop };
}
