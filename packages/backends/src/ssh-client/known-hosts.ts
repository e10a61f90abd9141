// Host keys of the machines we connect to. Nothing is trusted silently: a key is trusted when a
// `host_key:` pin names it, when a known_hosts file has it for the host (ours, where keys the user
// accepted are recorded, or the user's own ~/.ssh/known_hosts, read only), or when the user accepted
// it for this connection (then it is recorded in ours). A host known with another key is refused, as
// OpenSSH refuses it. Our file is OpenSSH's known_hosts format (`host keytype base64`, `[host]:port
// keytype base64` off port 22), so OpenSSH can be given it and `ssh-keygen -R` edits it.
import { createHash, createHmac } from 'node:crypto';
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { blobKeyType, parseHostKey } from '@dstack/core/host-key';

/** A host key as the server sent it: its type ("ssh-ed25519") and the SSH wire-format blob. */
export interface HostKey {
  type: string;
  data: Buffer;
}

/** What one hop of a connection may trust besides the known_hosts files. */
export interface HopTrust {
  /** The fleet file's `host_key:`: the only key the host may present. */
  pinned?: HostKey;
  /** Keys the user accepted for this host in this apply: recorded when the host presents one. */
  accepted?: HostKey[];
}

/** A key the user accepted for a host: "ssh-ed25519 AAAA..." for hostname:port. */
export interface AcceptedHostKey {
  hostname: string;
  port: number;
  key: string;
}

/** What a hop may trust besides the files: its pin, else the keys accepted for its hostname and port. */
export function hopTrust(hostname: string, port: number, pin: string | null | undefined, accepted: AcceptedHostKey[] = []): HopTrust {
  if (pin) return { pinned: hostKeyFrom(pin) };
  const mine = accepted.filter((a) => knownHostName(a.hostname, a.port) === knownHostName(hostname, port));
  return mine.length ? { accepted: mine.map((a) => hostKeyFrom(a.key)) } : {};
}

export type HostKeyVerdict =
  | { status: 'match' }
  /** First contact with a key the user accepted: it is now recorded. */
  | { status: 'recorded' }
  /** No pin, no known_hosts entry, not accepted: refused, nothing recorded. */
  | { status: 'unknown' }
  /** The host is known with another key; `file:line` is that entry. */
  | { status: 'changed'; known: HostKey; file: string; line: number }
  /** The host presented another key than its `host_key:`. */
  | { status: 'pin-mismatch'; pinned: HostKey }
  /** The key is marked @revoked in a known_hosts file. */
  | { status: 'revoked'; file: string; line: number };

export interface HostKeyStore {
  /** Key types trusted for the host (pinned, known or accepted): offered first, so the host presents one we can check. */
  knownTypes(host: string, port: number, trust?: HopTrust): Promise<string[]>;
  /** Checks the key a host presented; records it when it is new and accepted. */
  verify(host: string, port: number, key: HostKey, trust?: HopTrust): Promise<HostKeyVerdict>;
}

/** The key type inside an SSH wire-format public key blob (its first string). */
export function keyTypeOf(blob: Buffer): string {
  const type = blobKeyType(blob);
  if (!type) throw new Error(blob.length < 4 ? 'host key blob too short' : 'host key blob malformed');
  return type;
}

/** "ssh-ed25519 AAAA..." → the key. */
export function hostKeyFrom(text: string): HostKey {
  const { type, base64 } = parseHostKey(text);
  return { type, data: Buffer.from(base64, 'base64') };
}

/** "ssh-ed25519 AAAA...", as known_hosts and `host_key:` write it. */
export function hostKeyText(key: HostKey): string {
  return `${key.type} ${key.data.toString('base64')}`;
}

/** OpenSSH's fingerprint of a key: `SHA256:` and the base64 of its blob's sha256, without padding. */
export function fingerprint(key: HostKey): string {
  return `SHA256:${createHash('sha256').update(key.data).digest('base64').replace(/=+$/, '')}`;
}

/** The key type as OpenSSH names it in messages: ED25519, ECDSA, RSA. */
export function keyTypeName(type: string): string {
  if (type === 'ssh-ed25519') return 'ED25519';
  if (type.startsWith('ecdsa-')) return 'ECDSA';
  if (type === 'ssh-rsa' || type.startsWith('rsa-')) return 'RSA';
  return type.toUpperCase();
}

/** "ED25519 key SHA256:...": how a key is shown to a person. */
export function describeKey(key: HostKey): string {
  return `${keyTypeName(key.type)} key ${fingerprint(key)}`;
}

/** How OpenSSH names a host in known_hosts: bare on port 22, else `[host]:port`. */
export function knownHostName(host: string, port: number): string {
  const h = host.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

interface Entry {
  file: string;
  line: number;
  marker: '' | '@revoked' | '@cert-authority';
  patterns: string;
  type: string;
  key: string;
}

function globMatch(pattern: string, name: string): boolean {
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${re}$`).test(name);
}

/** OpenSSH's host matching: comma-separated patterns with `*`/`?`, `!` negation, `|1|salt|hash` hashed names. */
function hostMatches(patterns: string, name: string): boolean {
  if (patterns.startsWith('|1|')) {
    const [, , salt, hash] = patterns.split('|');
    if (!salt || !hash) return false;
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
  }
  let matched = false;
  for (const raw of patterns.split(',')) {
    const negated = raw.startsWith('!');
    const pattern = (negated ? raw.slice(1) : raw).toLowerCase();
    if (globMatch(pattern, name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

function parse(file: string, text: string): Entry[] {
  const entries: Entry[] = [];
  text.split('\n').forEach((raw, i) => {
    const words = raw.trim().split(/\s+/);
    if (!words[0] || words[0].startsWith('#')) return;
    const marker = words[0] === '@revoked' || words[0] === '@cert-authority' ? words.shift()! : '';
    const [patterns, type, key] = words;
    if (patterns && type && key) entries.push({ file, line: i + 1, marker: marker as Entry['marker'], patterns, type, key });
  });
  return entries;
}

function readEntries(file: string): Entry[] {
  try {
    return parse(file, readFileSync(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

const sameKey = (a: HostKey, b: HostKey) => a.type === b.type && a.data.equals(b.data);

export interface FileHostKeyStoreOptions {
  /** Other known_hosts files, read only (the user's ~/.ssh/known_hosts): a key there counts as known. */
  readOnly?: () => string[];
}

/** Our known_hosts file (e.g. `$DSTACK_HOME/ssh/fleet_known_hosts`), plus read-only ones. */
export class FileHostKeyStore implements HostKeyStore {
  // Fleet hosts connect in parallel: checks and appends to one file go one at a time.
  private static queues = new Map<string, Promise<unknown>>();

  constructor(
    readonly file: string,
    private readonly opts: FileHostKeyStoreOptions = {},
  ) {}

  /** Every entry (not @cert-authority) for the host, ours first. */
  private entriesFor(host: string, port: number): Entry[] {
    const name = knownHostName(host, port);
    return [this.file, ...(this.opts.readOnly?.() ?? [])]
      .flatMap(readEntries)
      .filter((e) => e.marker !== '@cert-authority' && hostMatches(e.patterns, name));
  }

  private serial<T>(fn: () => T): Promise<T> {
    const prev = FileHostKeyStore.queues.get(this.file) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    FileHostKeyStore.queues.set(
      this.file,
      next.catch(() => undefined),
    );
    return next;
  }

  async knownTypes(host: string, port: number, trust: HopTrust = {}): Promise<string[]> {
    if (trust.pinned) return [trust.pinned.type];
    const known = this.entriesFor(host, port)
      .filter((e) => !e.marker)
      .map((e) => e.type);
    return [...new Set([...known, ...(trust.accepted ?? []).map((k) => k.type)])];
  }

  verify(host: string, port: number, key: HostKey, trust: HopTrust = {}): Promise<HostKeyVerdict> {
    return this.serial((): HostKeyVerdict => {
      const entries = this.entriesFor(host, port);
      const encoded = key.data.toString('base64');
      const revoked = entries.find((e) => e.marker === '@revoked' && e.type === key.type && e.key === encoded);
      if (revoked) return { status: 'revoked', file: revoked.file, line: revoked.line };
      if (trust.pinned) return sameKey(trust.pinned, key) ? { status: 'match' } : { status: 'pin-mismatch', pinned: trust.pinned };
      const known = entries.filter((e) => !e.marker);
      if (known.some((e) => e.type === key.type && e.key === encoded)) return { status: 'match' };
      if (known.length) {
        const entry = known.find((e) => e.type === key.type) ?? known[0];
        return {
          status: 'changed',
          known: { type: entry.type, data: Buffer.from(entry.key, 'base64') },
          file: entry.file,
          line: entry.line,
        };
      }
      if (!trust.accepted?.some((k) => sameKey(k, key))) return { status: 'unknown' };
      this.record(host, port, key);
      return { status: 'recorded' };
    });
  }

  private record(host: string, port: number, key: HostKey): void {
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
    let prefix = '';
    try {
      const text = readFileSync(this.file, 'utf8');
      if (text && !text.endsWith('\n')) prefix = '\n';
    } catch {
      /* a new file */
    }
    appendFileSync(this.file, `${prefix}${knownHostName(host, port)} ${hostKeyText(key)}\n`, { mode: 0o644 });
  }
}
