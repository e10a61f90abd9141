// The fleets half of the daemon's API (daemon.proto): plan, the host keys to ask about, apply
// (create, add and remove hosts, redeploy), list, get, delete. Everything that can be refused is
// checked before anything changes (a bad file, a name taken by an apply in progress, a host with a run
// on it to remove without force); then each host is deployed or removed in parallel and reported as it goes.
import { randomUUID } from 'node:crypto';
import { homedir } from 'node:os';
import { resolveSshHosts, type FleetConfiguration } from '@dstack/core/config/index';
import type {
  ApplyFleetRequest,
  ConfigurationSource,
  DeleteFleetRequest,
  Fleet,
  FleetEvent,
  FleetPlan,
  GetFleetPlanRequest,
  HostKeyEntry,
  ScanHostKeysRequest,
  ScanHostKeysResponse,
} from '@dstack/core/gen/daemon';
import { generateRunName, isValidRunName } from '@dstack/core/names';
import { fingerprint, hostKeyFrom, hostKeyText, keyTypeName, type AcceptedHostKey } from '@dstack/backends/ssh-client/known-hosts';
import { accessFor, accessLabel, fleetHostData, type HostAccess } from '@dstack/backends/ssh-fleet/index';
import { existsSync } from 'node:fs';
import { BadRequestError, ConflictError, NotFoundError, PreconditionError } from '@dstack/core/grpc';
import type { RunRow } from '../state/runs-store';
import type { Sink } from '../runs/service';
import { deployHost, type Emit, type HostDeployDeps } from './deploy-host';
import { diffFleet, type CurrentHost, type HostChange } from './diff';
import type { FleetHost, FleetHosts } from './hosts';
import { removeHost } from './remove-host';
import type { FleetRow, FleetsStore } from './store';
import { fleetView } from './views';
import { resolveIdentityFiles } from './identity-files';
import { readSource } from '../config-source';

export interface FleetServiceDeps extends HostDeployDeps {
  fleets: FleetsStore;
  hosts: FleetHosts;
  /** Stops a run (user-requested) and resolves once it has ended. */
  stopRun: (run: RunRow, message: string) => Promise<void>;
  /** The user's home, for `~` in identity files and the default keys. */
  userHome?: () => string;
}

/** The keys a request says the user accepted, each checked to be a key. */
function acceptedKeys(entries: HostKeyEntry[]): AcceptedHostKey[] {
  return entries.map((e) => {
    try {
      return { hostname: e.hostname, port: e.port || 22, key: hostKeyText(hostKeyFrom(e.key)) };
    } catch (err) {
      throw new BadRequestError(`accepted host key of ${e.hostname}:${e.port}: ${(err as Error).message}`);
    }
  });
}

interface Parsed {
  config: FleetConfiguration;
  name: string;
  wanted: HostAccess[];
  /** The fleet file's absolute path. */
  path: string;
  secretEnv: Record<string, string>;
}

export class FleetService {
  /** Fleet names with an apply or delete in progress. */
  private readonly working = new Set<string>();

  constructor(private readonly d: FleetServiceDeps) {}

  private parse(src: ConfigurationSource | undefined, rpc: string, givenName = ''): Parsed {
    const read = readSource(src, 'fleet', rpc);
    if (!read.config.ssh_config) {
      throw new BadRequestError(
        `${src!.path}: cloud fleets (\`nodes\`) need a cloud backend, and dstack-ts has none yet: list your own hosts under \`ssh_config\``,
      );
    }
    const home = this.d.userHome?.() ?? homedir();
    const config = resolveIdentityFiles(read.path, src!.path, read.config, home);
    const name = givenName || config.name || generateRunName({ isTaken: (n) => Boolean(this.d.fleets.activeByName(n)) });
    if (!isValidRunName(name))
      throw new BadRequestError(`fleet name ${JSON.stringify(name)}: a lowercase letter, then 1 to 40 lowercase letters, digits or dashes`);
    const wanted = resolveSshHosts(config.ssh_config!).map((h) => accessFor(h, home));
    for (const a of wanted) {
      for (const [who, file] of [
        [accessLabel(a), a.identityFile],
        ...(a.proxyJump ? [[`jump host ${accessLabel(a.proxyJump)}`, a.proxyJump.identityFile]] : []),
      ]) {
        if (!file)
          throw new BadRequestError(
            `${who}: no identity_file, and none of ~/.ssh/id_ed25519, id_ecdsa, id_rsa exists: set ssh_config.identity_file`,
          );
        if (!existsSync(file)) throw new BadRequestError(`${who}: identity_file ${file}: no such file`);
      }
    }
    return { config, name, wanted, path: read.path, secretEnv: read.secretEnv };
  }

  private hostsOf(fleet: FleetRow): FleetHost[] {
    const runs = this.d.hosts.runsByInstance();
    return this.d.hosts.rowsOf(fleet).map((r) => this.d.hosts.view(r, runs));
  }

  private current(fleet: FleetRow | undefined): { hosts: FleetHost[]; list: CurrentHost[] } {
    const hosts = fleet ? this.hostsOf(fleet).filter((h) => h.status !== 'terminated' && h.status !== 'terminating') : [];
    const list = hosts.map((h) => {
      const data = fleetHostData(h.row.record);
      return {
        access: data.access,
        instanceName: h.row.record.name,
        num: data.num,
        ready: h.status !== 'failed' && h.status !== 'provisioning',
        message: h.message,
        runName: h.run?.name,
      };
    });
    return { hosts, list };
  }

  view(fleet: FleetRow): Fleet {
    return fleetView(fleet, this.hostsOf(fleet));
  }

  plan(req: GetFleetPlanRequest): FleetPlan {
    const { name, wanted } = this.parse(req.configuration, 'GetFleetPlan');
    const fleet = this.d.fleets.activeByName(name);
    const changes = diffFleet(this.current(fleet).list, wanted);
    return {
      fleetName: name,
      current: fleet ? this.view(fleet) : undefined,
      hosts: changes.map((c) => ({
        host: accessLabel(c.access),
        action: c.action,
        instanceName: c.instanceName ?? '',
        runName: c.runName ?? '',
        message: c.reason ?? '',
        proxyJump: c.access.proxyJump ? accessLabel(c.access.proxyJump) : '',
      })),
    };
  }

  async scanHostKeys(req: ScanHostKeysRequest): Promise<ScanHostKeysResponse> {
    const { wanted } = this.parse(req.configuration, 'ScanHostKeys');
    const scan = await this.d.backend.scanHostKeys(wanted, acceptedKeys(req.accepted));
    return {
      waiting: scan.waiting,
      unknown: scan.unknown.map((u) => ({
        key: { hostname: u.hostname, port: u.port, key: hostKeyText(u.key) },
        host: u.label,
        jump: u.jump,
        fingerprint: fingerprint(u.key),
        keyType: keyTypeName(u.key.type),
      })),
    };
  }

  /** Checks everything synchronously (errors become the rpc's status), then deploys and streams events. */
  apply(req: ApplyFleetRequest, sink: Sink<FleetEvent>): void {
    const { config, name, wanted, path, secretEnv } = this.parse(req.configuration, 'ApplyFleet', req.fleetName);
    const accepted = acceptedKeys(req.acceptedHostKeys);
    const env: Record<string, string> = {};
    const secretNames = new Set<string>();
    for (const [k, v] of Object.entries(config.env)) {
      const value = v ?? secretEnv[k];
      if (value === undefined)
        throw new BadRequestError(`env ${k} has no value: pass -e ${k}=VALUE or set it in the environment of \`dstack apply\``);
      env[k] = value;
      if (v === null) {
        secretNames.add(k);
        this.d.log.redact(value);
      }
    }
    if (this.working.has(name)) throw new ConflictError(`fleet ${name} is being applied or deleted right now: wait for that to end`);
    let fleet = this.d.fleets.activeByName(name);
    if (fleet?.status === 'terminating') throw new PreconditionError(`fleet ${name} is being deleted`);
    const { hosts, list } = this.current(fleet);
    const changes = diffFleet(list, wanted, { redeploy: req.redeploy });
    const busy = changes.filter((c) => c.action === 'remove' && c.runName);
    if (busy.length && !req.force) {
      throw new PreconditionError(
        `fleet ${name}: ${busy.map((c) => `${c.instanceName} (${accessLabel(c.access)}) runs ${c.runName}`).join('; ')}: ` +
          'stop the run first, or apply with force to stop it and remove the host',
      );
    }
    // The stored configuration keeps the file's env values, not the ones given as secrets.
    const stored = JSON.stringify({ ...config, name });
    if (!fleet) {
      fleet = {
        id: randomUUID(),
        name,
        status: 'submitted',
        statusMessage: '',
        configurationJson: stored,
        configurationPath: path,
        createdMs: Date.now(),
        finishedMs: 0,
      };
      this.d.fleets.insert(fleet);
    } else {
      fleet = this.d.fleets.update(fleet.id, { configurationJson: stored, configurationPath: path });
    }
    this.working.add(name);
    const row = fleet;
    void this.applyFlow(row, changes, hosts, env, secretNames, accepted, sink)
      .catch((err: Error) => {
        this.d.log.error(`fleet ${name}: apply failed`, { error: err.message });
        sink.write({ host: '', stage: 'failed', message: err.message, error: true, warning: false, uploadedBytes: 0 });
      })
      .finally(() => {
        this.working.delete(name);
        sink.end();
      });
  }

  private emitter(sink: Sink<FleetEvent>): Emit {
    return (ev) => sink.write({ host: '', message: '', error: false, warning: false, uploadedBytes: 0, ...ev });
  }

  private async applyFlow(
    fleet: FleetRow,
    changes: HostChange[],
    hosts: FleetHost[],
    env: Record<string, string>,
    secretNames: ReadonlySet<string>,
    accepted: AcceptedHostKey[],
    sink: Sink<FleetEvent>,
  ): Promise<void> {
    const emit = this.emitter(sink);
    const results = await Promise.all(
      changes.map(async (c) => {
        if (c.action === 'keep') return true;
        if (c.action === 'remove') {
          const host = hosts.find((h) => h.row.record.name === c.instanceName)!;
          return removeHost(this.d, host, emit);
        }
        return deployHost(this.d, fleet, c, env, emit, { secretNames, accepted });
      }),
    );
    const failed = changes.filter((_, i) => !results[i]);
    const ready = this.hostsOf(fleet).filter((h) => ['idle', 'busy'].includes(h.status));
    let status = fleet.status;
    if (ready.length) status = 'active';
    else if (fleet.status === 'submitted') status = 'failed';
    const after = this.d.fleets.update(fleet.id, {
      status,
      statusMessage: failed.length ? `${failed.length} host(s) failed` : '',
      ...(status === 'failed' ? { finishedMs: Date.now() } : {}),
    });
    const summary = failed.length
      ? `${failed.length} of ${changes.filter((c) => c.action !== 'keep').length} host changes failed: ${failed.map((c) => accessLabel(c.access)).join(', ')}`
      : `fleet ${fleet.name} is ${status}`;
    this.d.log.info(`fleet ${fleet.name}: applied (${summary})`);
    emit({ stage: 'done', message: summary, fleet: this.view(after), error: failed.length > 0 });
  }

  list(all: boolean): Fleet[] {
    return this.d.fleets.list(all).map((f) => this.view(f));
  }

  get(name: string): Fleet {
    const fleet = this.d.fleets.byName(name);
    if (!fleet) throw new NotFoundError(`no fleet named ${JSON.stringify(name)}: see \`dstack fleet\``);
    return this.view(fleet);
  }

  delete(req: DeleteFleetRequest, sink: Sink<FleetEvent>): void {
    const fleet = this.d.fleets.activeByName(req.name);
    if (!fleet) throw new NotFoundError(`no active fleet named ${JSON.stringify(req.name)}: see \`dstack fleet\``);
    if (this.working.has(fleet.name))
      throw new ConflictError(`fleet ${fleet.name} is being applied or deleted right now: wait for that to end`);
    const hosts = this.hostsOf(fleet).filter((h) => h.status !== 'terminated');
    const busy = hosts.filter((h) => h.run);
    if (busy.length && !req.force) {
      throw new PreconditionError(
        `fleet ${fleet.name} has active runs: ${busy.map((h) => `${h.run!.name} (on ${h.row.record.name})`).join(', ')}: ` +
          'stop them first (`dstack stop NAME`), or delete with force to stop them',
      );
    }
    this.working.add(fleet.name);
    this.d.fleets.update(fleet.id, { status: 'terminating' });
    const emit = this.emitter(sink);
    void Promise.all(hosts.map((h) => removeHost(this.d, h, emit)))
      .then((results) => {
        const failed = results.filter((ok) => !ok).length;
        const after = this.d.fleets.update(fleet.id, {
          status: 'terminated',
          finishedMs: Date.now(),
          statusMessage: failed ? `${failed} host(s) not cleaned up` : '',
        });
        this.d.log.info(`fleet ${fleet.name}: deleted`, { failed });
        emit({
          stage: 'done',
          message: failed ? `fleet ${fleet.name} deleted; ${failed} host(s) could not be cleaned up` : `fleet ${fleet.name} deleted`,
          fleet: this.view(after),
          error: failed > 0,
        });
      })
      .catch((err: Error) => emit({ stage: 'failed', message: err.message, error: true }))
      .finally(() => {
        this.working.delete(fleet.name);
        sink.end();
      });
  }
}
