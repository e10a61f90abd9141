// One live connection per instance's agent: deployed on first use, its Events stream subscribed
// and fed to listeners (the run controller), reconnected with backoff when it drops. After a few
// failed reconnects it redeploys (the agent died, or the host restarted it), which starts it again.
import type { Event, HandshakeResponse } from '@dstack/core/gen/agent';
import type { Backend, InstanceRecord } from '@dstack/backends/backend';
import type { HostConnection } from '@dstack/backends/host-connection';
import type { ClientReadableStream } from '@grpc/grpc-js';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from '../logger';
import type { AgentBinaries } from './binaries';
import { deployAgent, type DeployStage, type DeployedAgent } from './deploy';
import type { AgentRpc } from './rpc';

export interface AgentHandle {
  key: string;
  rpc: AgentRpc;
  handshake: HandshakeResponse;
  conn: HostConnection;
  up: boolean;
}

export interface AgentManagerOptions {
  runDir: string;
  binaries: AgentBinaries;
  log: Logger;
  backendFor: (type: string) => Backend;
}

type EventListener = (key: string, ev: Event) => void;
type StateListener = (key: string, up: boolean, error?: Error) => void;

interface Entry {
  handle?: AgentHandle;
  deployed?: DeployedAgent;
  record: InstanceRecord;
  connecting?: Promise<AgentHandle>;
  stream?: ClientReadableStream<Event>;
  retryTimer?: NodeJS.Timeout;
  failures: number;
  closed: boolean;
}

export function bridgePathFor(runDir: string, key: string): string {
  // Short and fixed-length: unix socket paths are limited to ~107 bytes.
  return join(runDir, `agent-${createHash('sha256').update(key).digest('hex').slice(0, 12)}.sock`);
}

export class AgentManager {
  private entries = new Map<string, Entry>();
  private eventListeners: EventListener[] = [];
  private stateListeners: StateListener[] = [];

  constructor(private readonly opts: AgentManagerOptions) {}

  onEvent(l: EventListener): void {
    this.eventListeners.push(l);
  }

  onState(l: StateListener): void {
    this.stateListeners.push(l);
  }

  /** The connected agent of an instance, deploying it when needed. Concurrent callers share one deploy. */
  connect(key: string, record: InstanceRecord, onStage?: (s: DeployStage, m: string) => void): Promise<AgentHandle> {
    let e = this.entries.get(key);
    if (!e) {
      e = { record, failures: 0, closed: false };
      this.entries.set(key, e);
    }
    e.record = record;
    if (e.handle?.up) return Promise.resolve(e.handle);
    if (e.connecting) return e.connecting;
    const entry = e;
    const p = this.establish(key, entry, onStage).finally(() => {
      entry.connecting = undefined;
    });
    entry.connecting = p;
    return p;
  }

  /** The handle if connected now, without deploying. */
  current(key: string): AgentHandle | undefined {
    const h = this.entries.get(key)?.handle;
    return h?.up ? h : undefined;
  }

  private async establish(key: string, e: Entry, onStage?: (s: DeployStage, m: string) => void): Promise<AgentHandle> {
    await this.teardown(e);
    const backend = this.opts.backendFor(e.record.backend);
    const conn = await backend.connect(e.record);
    let deployed: DeployedAgent;
    try {
      deployed = await deployAgent({
        conn,
        placement: e.record.agent,
        binaries: this.opts.binaries,
        bridgePath: bridgePathFor(this.opts.runDir, key),
        log: this.opts.log,
        onStage,
        start: backend.startAgent && ((c, placement) => backend.startAgent!(c, { ...e.record, agent: placement })),
      });
    } catch (err) {
      await conn.close().catch(() => {});
      throw err;
    }
    e.deployed = deployed;
    e.handle = { key, rpc: deployed.rpc, handshake: deployed.handshake, conn, up: true };
    e.failures = 0;
    e.closed = false;
    this.subscribe(key, e);
    for (const l of this.stateListeners) l(key, true);
    return e.handle;
  }

  private subscribe(key: string, e: Entry): void {
    if (!e.handle || e.closed) return;
    const stream = e.handle.rpc.events({ jobId: '' });
    e.stream = stream;
    let ended = false;
    const onDown = (err?: Error) => {
      if (ended) return;
      ended = true;
      // A stream we cancelled ourselves (teardown, resubscribe) is not a drop.
      if (e.stream !== stream || e.closed) return;
      e.stream = undefined;
      this.opts.log.warn(`agent ${key}: events stream dropped`, { error: err?.message ?? 'ended' });
      if (e.handle) e.handle.up = false;
      for (const l of this.stateListeners) l(key, false, err);
      this.scheduleReconnect(key, e);
    };
    stream.on('data', (ev: Event) => {
      e.failures = 0;
      for (const l of this.eventListeners) {
        try {
          l(key, ev);
        } catch (err) {
          this.opts.log.error(`event handler failed for ${key}`, { error: err as Error });
        }
      }
    });
    stream.on('error', (err: Error) => onDown(err));
    stream.on('end', () => onDown());
  }

  private scheduleReconnect(key: string, e: Entry): void {
    if (e.closed || e.retryTimer) return;
    const delay = Math.min(10_000, 500 * 2 ** Math.min(e.failures, 5));
    e.failures++;
    e.retryTimer = setTimeout(async () => {
      e.retryTimer = undefined;
      if (e.closed) return;
      try {
        // The agent answering again (a dropped tunnel, a brief hang): subscribe again. After a few
        // failures, redeploy: that restarts an agent that died.
        const alive = e.handle
          ? await e.handle.rpc.handshake({ daemonVersion: '', protocolVersion: 0 }, 2000).then(
              () => true,
              () => false,
            )
          : false;
        if (alive && e.handle) {
          e.handle.up = true;
          this.subscribe(key, e);
          for (const l of this.stateListeners) l(key, true);
          return;
        }
        if (e.failures >= 3) {
          await this.connect(key, e.record);
          return;
        }
      } catch (err) {
        this.opts.log.warn(`agent ${key}: reconnect failed`, { error: err as Error });
      }
      this.scheduleReconnect(key, e);
    }, delay);
  }

  private async teardown(e: Entry): Promise<void> {
    if (e.retryTimer) clearTimeout(e.retryTimer);
    e.retryTimer = undefined;
    const stream = e.stream;
    e.stream = undefined;
    stream?.cancel();
    if (e.deployed) {
      e.deployed.rpc.close();
      await e.deployed.bridge.close();
      e.deployed = undefined;
    }
    if (e.handle) {
      e.handle.up = false;
      await e.handle.conn.close().catch(() => {});
      e.handle = undefined;
    }
  }

  /** Closes the connection to one agent (the agent keeps running). */
  async disconnect(key: string): Promise<void> {
    const e = this.entries.get(key);
    if (!e) return;
    e.closed = true;
    await this.teardown(e);
    this.entries.delete(key);
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.entries.keys()].map((k) => this.disconnect(k)));
  }
}
