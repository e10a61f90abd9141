// Agent deployment, one code path for every HostConnection (this machine, a fleet host over SSH, a
// cloud VM): detect the arch, upload the executable only when the host's copy differs (gzip in
// transit; its sha256 checked on the host before it is installed), start it detached in its own
// session (it outlives the daemon and keeps the runs), wait for its socket, and check the handshake.
// A version or sha256 mismatch restarts it once.
import type { HandshakeResponse } from '@dstack/core/gen/agent';
import { AGENT_PROTOCOL_VERSION, VERSION } from '@dstack/core/version';
import type { AgentPlacement } from '@dstack/backends/backend';
import type { HostConnection } from '@dstack/backends/host-connection';
import { fileSha256 } from '@dstack/backends/host-probe';
import { DEFAULT_LOG_ROTATION, type LogRotation } from '@dstack/core/log-file';
import { shellWord } from '@dstack/core/quoting';
import { createReadStream } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../logger';
import { archOf, type AgentBinaries, type AgentBinary } from './binaries';
import { bridgeUnixSocket, type SocketBridge } from '@dstack/backends/socket-bridge';
import { AgentRpc } from './rpc';

export type DeployStage = 'detecting' | 'uploading_agent' | 'starting_agent' | 'ready';

export interface DeployOptions {
  conn: HostConnection;
  placement: AgentPlacement;
  binaries: AgentBinaries;
  /** Local socket path the bridge listens on (under $DSTACK_HOME/run). */
  bridgePath: string;
  log: Logger;
  onStage?: (stage: DeployStage, message: string) => void;
  /** How long a freshly started agent has to answer. */
  startTimeoutMs?: number;
  /** Starts the agent another way (a systemd unit) and returns its pid; null: detached, as by default. */
  start?: (conn: HostConnection, placement: AgentPlacement) => Promise<number | null>;
}

export interface DeployedAgent {
  rpc: AgentRpc;
  bridge: SocketBridge;
  handshake: HandshakeResponse;
  binary: AgentBinary;
  /** The executable was uploaded, or the agent (re)started, by this call. */
  uploaded: boolean;
  started: boolean;
}

async function must(conn: HostConnection, cmd: string, what: string, timeoutMs = 60_000, input?: string): Promise<string> {
  const res = await conn.exec(cmd, { timeoutMs, input });
  if (res.code !== 0)
    throw new Error(`${what} on ${conn.description} failed (exit ${res.code}): ${(res.stderr || res.stdout).trim().slice(-500)}`);
  return res.stdout;
}

async function tryHandshake(rpc: AgentRpc, timeoutMs: number): Promise<HandshakeResponse | undefined> {
  try {
    return await rpc.handshake({ daemonVersion: VERSION, protocolVersion: AGENT_PROTOCOL_VERSION }, timeoutMs);
  } catch {
    return undefined;
  }
}

function matches(hs: HandshakeResponse, bin: AgentBinary): boolean {
  return hs.agentSha256 === bin.sha256 && hs.protocolVersion === AGENT_PROTOCOL_VERSION;
}

/** How an agent executable's sha256 was read: by a tool of the host's, or from the executable itself. */
export type ShaSource = 'host' | 'self';

/**
 * The sha256 the executable at `path` reports of itself (`--version --json`, which hashes
 * /proc/self/exe and does nothing else); '' when it does not run or answers something else.
 */
async function selfReportedSha(conn: HostConnection, path: string): Promise<{ sha: string; problem?: string }> {
  const res = await conn.exec(`${shellWord(path)} --version --json`, { timeoutMs: 120_000 });
  if (res.code !== 0) return { sha: '', problem: `it does not run (exit ${res.code}): ${(res.stderr || res.stdout).trim().slice(-300)}` };
  try {
    const sha = (JSON.parse(res.stdout.trim().split('\n').pop() ?? '') as { sha256?: unknown }).sha256;
    if (typeof sha === 'string' && /^[0-9a-f]{64}$/.test(sha)) return { sha };
  } catch {
    /* below */
  }
  return { sha: '', problem: `its --version --json printed ${JSON.stringify(res.stdout.trim().slice(0, 200))}` };
}

/**
 * The sha256 of the agent executable at `path` on the host ('' when there is none): the host's own
 * tools (host-probe's fileSha256), else, on a host with none of them, the executable's report of
 * itself. Running it unchecked is acceptable: SSH's MAC guards the bytes in transit, so what this
 * catches is damage on the host (a cut upload, a full disk, a broken gzip), and a damaged copy
 * either does not run or reports another hash; a host that lies could lie through sha256sum too.
 */
export async function agentSha256(conn: HostConnection, path: string): Promise<{ sha: string; source: ShaSource; problem?: string }> {
  const fromHost = await fileSha256(conn, path);
  if (fromHost !== null) return { sha: fromHost, source: 'host' };
  return { ...(await selfReportedSha(conn, path)), source: 'self' };
}

/**
 * The host fetches the agent from `url` itself (curl or wget), checked against the daemon's own
 * sha256 before it takes the agent's name. false, with a warning, when it cannot: the caller uploads.
 */
async function download(conn: HostConnection, url: string, next: string, bin: AgentBinary, log: Logger): Promise<boolean> {
  const tmp = shellWord(`${next}.tmp-dl`);
  const res = await conn.exec(
    `rm -f ${tmp}; if command -v curl >/dev/null 2>&1; then curl -fsSL --max-time 600 -o ${tmp} ${shellWord(url)}; ` +
      `elif command -v wget >/dev/null 2>&1; then wget -q -T 600 -O ${tmp} ${shellWord(url)}; else echo 'no curl or wget' >&2; exit 127; fi ` +
      `&& chmod 755 ${tmp} && mv -f ${tmp} ${shellWord(next)}`,
    { timeoutMs: 660_000 },
  );
  if (res.code !== 0) {
    await conn.exec(`rm -f ${tmp}`);
    log.warn(
      `agent on ${conn.description}: could not download it from agent_url (${res.stderr.trim().split('\n').pop() || `exit ${res.code}`}); uploading it instead`,
    );
    return false;
  }
  const { sha } = await agentSha256(conn, next);
  if (sha !== bin.sha256) {
    await conn.exec(`rm -f ${shellWord(next)}`);
    log.warn(
      `agent on ${conn.description}: agent_url served sha256 ${sha}, expected ${bin.sha256} (this daemon's agent); uploading it instead`,
    );
    return false;
  }
  log.info(`agent on ${conn.description}: downloaded from agent_url, sha256 checked`);
  return true;
}

async function install(
  conn: HostConnection,
  p: AgentPlacement,
  bin: AgentBinary,
  binaries: AgentBinaries,
  log: Logger,
): Promise<'downloaded' | 'uploaded'> {
  const hasGzip = (await conn.exec('command -v gzip >/dev/null 2>&1')).code === 0;
  // Leftovers of an upload cut short (a daemon killed mid-deploy) go first.
  await must(
    conn,
    `mkdir -p ${shellWord(dirname(p.binPath))} ${shellWord(p.dataDir)} && chmod 700 ${shellWord(p.dataDir)} && ` +
      `rm -f ${shellWord(p.binPath)}.new ${shellWord(p.binPath)}.gz ${shellWord(p.binPath)}.gz.tmp-* ${shellWord(p.binPath)}.new.tmp-*`,
    'creating the agent dirs',
  );
  const next = `${p.binPath}.new`;
  if (p.agentUrl && (await download(conn, p.agentUrl.replaceAll('{arch}', bin.arch), next, bin, log))) {
    await must(conn, `mv -f ${shellWord(next)} ${shellWord(p.binPath)}`, 'installing the agent');
    return 'downloaded';
  }
  if (hasGzip) {
    const gz = `${p.binPath}.gz`;
    await conn.upload(binaries.gzipStream(bin), gz, 0o600);
    await must(conn, `gzip -dc ${shellWord(gz)} > ${shellWord(next)} && rm -f ${shellWord(gz)}`, 'unpacking the agent', 300_000);
  } else {
    await conn.upload(createReadStream(bin.path), next, 0o755);
  }
  await must(conn, `chmod 755 ${shellWord(next)}`, 'installing the agent');
  // Checked before it takes the agent's name: a damaged copy never becomes the agent.
  const { sha, source, problem } = await agentSha256(conn, next);
  if (sha !== bin.sha256) {
    await conn.exec(`rm -f ${shellWord(next)}`);
    const how =
      source === 'host' ? 'sha256' : 'sha256 by its own report (the host has no sha256sum, shasum, openssl, busybox, python3 or perl)';
    throw new Error(`the agent uploaded to ${conn.description} is corrupt: ${problem ?? `its ${how} is ${sha}`}, expected ${bin.sha256}`);
  }
  log.info(
    `agent on ${conn.description}: upload checked (sha256 ${source === 'host' ? "by the host's tools" : 'by its own report: the host has no sha256 tool'})`,
  );
  // A rename: an agent still running from the old file keeps its inode.
  await must(conn, `mv -f ${shellWord(next)} ${shellWord(p.binPath)}`, 'installing the agent');
  return 'uploaded';
}

/** sh that rotates `file` (FILE → FILE.1 → ... → FILE.keep) when it is over the cap; run before a process opens it. */
export function rotateCommand(file: string, { maxBytes, keep }: LogRotation): string {
  const f = shellWord(file);
  const steps = keep < 1 ? [`rm -f ${f}`] : [`rm -f ${shellWord(`${file}.${keep}`)}`];
  for (let i = keep - 1; i >= 1; i--)
    steps.push(`{ mv -f ${shellWord(`${file}.${i}`)} ${shellWord(`${file}.${i + 1}`)} 2>/dev/null || :; }`);
  if (keep >= 1) steps.push(`mv -f ${f} ${shellWord(`${file}.1`)}`);
  return `if [ -f ${f} ] && [ $(wc -c < ${f}) -gt ${maxBytes} ]; then ${steps.join('; ')}; fi`;
}

/**
 * Starts `serve` detached in its own session; returns its pid. The script goes to `sh` on its stdin,
 * and so do the agent's variables (a fleet's `env`, values that may be secrets): exported there, they
 * reach the agent's environment without ever being on a command line, where `ps` on the host would
 * show them, or in a file.
 */
export async function startDetached(conn: HostConnection, p: AgentPlacement): Promise<number> {
  const out = `${p.dataDir}/agent.stdout`;
  const script = [
    `mkdir -p ${shellWord(p.dataDir)} && chmod 700 ${shellWord(p.dataDir)} || exit 1`,
    ...Object.entries(p.env ?? {}).map(([k, v]) => `export ${k}=${shellWord(v)}`),
    `rm -f ${shellWord(p.socketPath)}`,
    // The shell's redirection holds agent.stdout for the agent's life, so it is rotated here, at each
    // start, not while open (a copy-and-truncate could lose what is written between the two). The
    // agent logs to --log-file (rotated by itself): only what Node prints on a crash lands here.
    rotateCommand(out, DEFAULT_LOG_ROTATION),
    'if command -v setsid >/dev/null 2>&1; then S=setsid; else S=nohup; fi',
    `cd ${shellWord(p.dataDir)} || exit 1`,
    `$S ${shellWord(p.binPath)} serve --data-dir ${shellWord(p.dataDir)} --socket ${shellWord(p.socketPath)} --log-file ${shellWord(p.logFile)} </dev/null >>${shellWord(out)} 2>&1 &`,
    'echo $!',
    '',
  ].join('\n');
  const pid = Number((await must(conn, 'sh -s', 'starting the agent', 60_000, script)).trim().split('\n').pop());
  return Number.isFinite(pid) ? pid : 0;
}

/** The pid in the agent's pid file when that process is alive; 0 otherwise. */
async function livePid(conn: HostConnection, p: AgentPlacement): Promise<number> {
  const res = await conn.exec(`pid=$(cat ${shellWord(`${p.dataDir}/agent.pid`)} 2>/dev/null) && kill -0 "$pid" 2>/dev/null && echo "$pid"`);
  const pid = Number(res.stdout.trim());
  return res.code === 0 && Number.isInteger(pid) && pid > 0 ? pid : 0;
}

async function stopProcess(conn: HostConnection, pid: number): Promise<void> {
  if (!pid) return;
  await conn.exec(
    `kill ${pid} 2>/dev/null; for i in $(seq 1 50); do kill -0 ${pid} 2>/dev/null || exit 0; sleep 0.2; done; kill -9 ${pid} 2>/dev/null; exit 0`,
    { timeoutMs: 30_000 },
  );
}

async function tail(conn: HostConnection, p: AgentPlacement): Promise<string> {
  const res = await conn.exec(`tail -n 20 ${shellWord(p.logFile)} ${shellWord(`${p.dataDir}/agent.stdout`)} 2>/dev/null`);
  return res.stdout.trim();
}

async function waitReady(
  conn: HostConnection,
  p: AgentPlacement,
  rpc: AgentRpc,
  pid: number,
  timeoutMs: number,
): Promise<HandshakeResponse> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; ; i++) {
    const hs = await tryHandshake(rpc, 2000);
    if (hs) return hs;
    if (pid && i % 4 === 3 && (await conn.exec(`kill -0 ${pid} 2>/dev/null`)).code !== 0) {
      throw new Error(`the agent on ${conn.description} exited right after it started:\n${await tail(conn, p)}`);
    }
    if (Date.now() > deadline) {
      throw new Error(
        `the agent on ${conn.description} did not answer on ${p.socketPath} within ${timeoutMs / 1000}s:\n${await tail(conn, p)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function deployAgent(opts: DeployOptions): Promise<DeployedAgent> {
  const { conn, placement: p, log } = opts;
  const stage = (s: DeployStage, m: string) => {
    log.info(`agent on ${conn.description}: ${m}`);
    opts.onStage?.(s, m);
  };
  stage('detecting', 'detecting the architecture');
  const arch = archOf(await must(conn, 'uname -m', 'uname -m'));
  const bin = await opts.binaries.forArch(arch);
  const bridge = await bridgeUnixSocket(conn, p.socketPath, opts.bridgePath);
  const rpc = new AgentRpc(`unix://${bridge.localPath}`);
  let uploaded = false;
  let started = false;
  try {
    for (let attempt = 0; attempt < 2; attempt++) {
      let hs = await tryHandshake(rpc, 3000);
      // No answer, but its process lives (a loaded host, a slow tunnel): ask again, longer, and stop it
      // if it stays silent. Starting a second agent beside it would leave two on one data dir.
      const silent = hs ? 0 : await livePid(conn, p);
      if (silent) {
        hs = await tryHandshake(rpc, 20_000);
        if (!hs) {
          log.warn(`agent on ${conn.description} (pid ${silent}) does not answer: restarting it`);
          await stopProcess(conn, silent);
        }
      }
      if (hs && matches(hs, bin)) {
        stage('ready', `agent ${hs.agentVersion} (pid ${hs.pid}) answers`);
        return { rpc, bridge, handshake: hs, binary: bin, uploaded, started };
      }
      if (hs) {
        log.warn(
          `agent on ${conn.description} is ${hs.agentVersion} sha256:${hs.agentSha256.slice(0, 12)} (protocol ${hs.protocolVersion}); ` +
            `restarting it as sha256:${bin.sha256.slice(0, 12)}`,
        );
        await stopProcess(conn, hs.pid);
      }
      if ((await agentSha256(conn, p.binPath)).sha !== bin.sha256) {
        stage(
          'uploading_agent',
          p.agentUrl ? 'fetching the agent (agent_url)' : `uploading the agent (${Math.round(bin.size / 1024 / 1024)} MB, compressed)`,
        );
        await install(conn, p, bin, opts.binaries, log);
        uploaded = true;
      }
      stage('starting_agent', 'starting the agent');
      const pid = (await opts.start?.(conn, p)) ?? (await startDetached(conn, p));
      started = true;
      const fresh = await waitReady(conn, p, rpc, pid, opts.startTimeoutMs ?? 60_000);
      if (matches(fresh, bin)) {
        stage('ready', `agent ${fresh.agentVersion} (pid ${fresh.pid}) started`);
        return { rpc, bridge, handshake: fresh, binary: bin, uploaded, started };
      }
      log.warn(`agent on ${conn.description} reports sha256:${fresh.agentSha256} after a start, expected ${bin.sha256}`);
    }
    throw new Error(`the agent on ${conn.description} still reports a different version after a redeploy (expected sha256 ${bin.sha256})`);
  } catch (err) {
    rpc.close();
    await bridge.close();
    throw err;
  }
}
