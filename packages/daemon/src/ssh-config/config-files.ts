// SSH access without an attached CLI: $DSTACK_HOME/ssh/config holds one `Host <run>` block per
// running run (removed when it ends), the run's host key is pinned in $DSTACK_HOME/ssh/known_hosts
// under a HostKeyAlias (so a later run may reuse the port), and ~/.ssh/config gets one Include line
// for our file, at its top, added once. OpenSSH's `ssh <run>` then works by itself. Every hop's host
// key is pinned (StrictHostKeyChecking yes): the run's own, and the fleet host's and jump host's keys
// the daemon checked when it connected; a hop without a recorded key fails rather than trusts.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '@dstack/core/atomic-write';
import { QuotingError, sshConfigValue } from '@dstack/core/quoting';
import type { SshEndpoint } from '@dstack/backends/backend';

export interface RunSshEntry {
  /** The Host alias: the run's name. */
  alias: string;
  /** Where the job's SSH server listens, as seen from here (127.0.0.1) or from the jump host. */
  hostname: string;
  port: number;
  user: string;
  /** The job's host key ("ssh-ed25519 AAAA..."), pinned under hostKeyAlias. */
  hostKey: string;
  hostKeyAlias: string;
  /** The host's own sshd, for a run on a remote host: a ProxyJump through it. */
  proxy?: SshEndpoint;
}

const HEADER = '# Managed by dstack: one Host block per running run, rewritten as runs start and end.\n';
const begin = (alias: string) => `# >>> dstack run ${alias}`;
const end = (alias: string) => `# <<< dstack run ${alias}`;

/** `  Keyword value`, the value written so OpenSSH reads it back as is (or refused: quoting.ts). */
function option(keyword: string, value: string | number): string {
  return `  ${keyword} ${sshConfigValue(keyword, value)}`;
}

/** "type base64" of a public key line, without its comment. */
function keyOnly(line: string): string {
  return line.trim().split(/\s+/).slice(0, 2).join(' ');
}

/** ssh reads these files on every connect: never half-written (no fsync: they are written on every run start and end). */
function writeAtomic(file: string, text: string): void {
  writeFileAtomic(file, text, { mode: 0o600, durable: false, mkdir: true });
}

export class SshConfigFiles {
  constructor(
    readonly configPath: string,
    readonly knownHostsPath: string,
    readonly identityFile: string,
  ) {}

  private readBlocks(): Map<string, string> {
    const blocks = new Map<string, string>();
    if (!existsSync(this.configPath)) return blocks;
    const text = readFileSync(this.configPath, 'utf8');
    const re = /^# >>> dstack run (\S+)\n([\s\S]*?)^# <<< dstack run \1\n?/gm;
    for (const m of text.matchAll(re)) blocks.set(m[1], m[0].endsWith('\n') ? m[0] : `${m[0]}\n`);
    return blocks;
  }

  private writeBlocks(blocks: Map<string, string>): void {
    writeAtomic(this.configPath, HEADER + [...blocks.values()].map((b) => `\n${b}`).join(''));
  }

  aliases(): string[] {
    return [...this.readBlocks().keys()];
  }

  has(alias: string): boolean {
    return this.readBlocks().has(alias);
  }

  private hopLines(host: string, ep: SshEndpoint, jumpAlias: string | undefined, hostKeyAlias: string | undefined): string[] {
    const lines = [
      `Host ${host}`,
      option('HostName', ep.hostname),
      option('Port', ep.port),
      option('User', ep.user),
      option('IdentityFile', ep.identityFile || this.identityFile),
      '  IdentitiesOnly yes',
      option('UserKnownHostsFile', this.knownHostsPath),
      '  StrictHostKeyChecking yes',
    ];
    if (hostKeyAlias) lines.push(option('HostKeyAlias', hostKeyAlias));
    if (jumpAlias) lines.push(option('ProxyJump', jumpAlias));
    return lines;
  }

  /** Adds or replaces the run's block and pins its host key. */
  upsert(entry: RunSshEntry): void {
    const lines: string[] = [begin(entry.alias)];
    const pins: string[] = [`${entry.hostKeyAlias} ${keyOnly(entry.hostKey)}`];
    // Jump hosts first (outermost last in the chain): <alias>-jump, <alias>-jump2, ...
    let jumpAlias: string | undefined;
    const hops: SshEndpoint[] = [];
    for (let p = entry.proxy; p; p = p.proxyJump) hops.unshift(p);
    hops.forEach((hop, i) => {
      const name = `${entry.alias}-jump${hops.length - i > 1 ? hops.length - i : ''}`;
      const keyAlias = hop.hostKeys?.length ? `dstack-host-${entry.alias}-${hops.length - i}` : undefined;
      if (keyAlias) for (const k of hop.hostKeys!) pins.push(`${keyAlias} ${keyOnly(k)}`);
      lines.push(...this.hopLines(name, hop, jumpAlias, keyAlias));
      jumpAlias = name;
    });
    lines.push(
      ...this.hopLines(entry.alias, { hostname: entry.hostname, port: entry.port, user: entry.user }, jumpAlias, entry.hostKeyAlias),
      '  ServerAliveInterval 15',
      '  ServerAliveCountMax 4',
      '  LogLevel ERROR',
    );
    lines.push(end(entry.alias));
    const blocks = this.readBlocks();
    blocks.set(entry.alias, `${lines.join('\n')}\n`);
    this.writeKnownHosts(entry.alias, pins);
    this.writeBlocks(blocks);
  }

  remove(alias: string): boolean {
    const blocks = this.readBlocks();
    const had = blocks.delete(alias);
    if (had) this.writeBlocks(blocks);
    this.writeKnownHosts(alias, []);
    return had;
  }

  /** Replaces the pinned keys of one run (lines tagged with it) by `pins`. */
  private writeKnownHosts(alias: string, pins: string[]): void {
    const tag = ` # dstack run ${alias}`;
    const old = existsSync(this.knownHostsPath) ? readFileSync(this.knownHostsPath, 'utf8').split('\n').filter(Boolean) : [];
    const kept = old.filter((l) => !l.endsWith(tag));
    if (kept.length === old.length && pins.length === 0) return;
    writeAtomic(this.knownHostsPath, [...kept, ...pins.map((p) => `${p}${tag}`)].map((l) => `${l}\n`).join(''));
  }
}

export interface IncludeResult {
  added: boolean;
  /** Set when ~/.ssh/config could not be changed: says the exact line to add by hand. */
  warning?: string;
}

export function includeLine(configPath: string): string {
  return `Include ${sshConfigValue('Include', configPath)}`;
}

/** Puts `Include <our config>` at the top of <home>/.ssh/config once; leaves the rest alone. */
export function ensureInclude(homeDir: string, ourConfig: string): IncludeResult {
  const sshDir = join(homeDir, '.ssh');
  const userConfig = join(sshDir, 'config');
  let line: string;
  try {
    line = includeLine(ourConfig);
  } catch (err) {
    if (!(err instanceof QuotingError)) throw err;
    return { added: false, warning: `could not add dstack's Include line to ${userConfig}: ${err.message}` };
  }
  try {
    let text = '';
    if (existsSync(userConfig)) {
      text = readFileSync(userConfig, 'utf8');
      const present = text.split('\n').some((l) => {
        if (l.trim() === line) return true;
        const m = /^\s*include\s+(.*)$/i.exec(l);
        return m !== null && (m[1].match(/"[^"]*"|\S+/g) ?? []).some((p) => p.replace(/^"|"$/g, '') === ourConfig);
      });
      if (present) return { added: false };
    } else {
      mkdirSync(sshDir, { recursive: true, mode: 0o700 });
    }
    const next = `# Added by dstack: \`ssh <run>\` for dstack's runs\n${line}\n\n${text}`;
    // Write in place (not rename) so a symlinked ~/.ssh/config and its owner and mode stay as they are.
    writeFileSync(userConfig, next, existsSync(userConfig) ? {} : { mode: 0o600 });
    return { added: true };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    return {
      added: false,
      warning: `could not add dstack's Include line to ${userConfig} (${code}): add this line at its top yourself: ${line}`,
    };
  }
}
