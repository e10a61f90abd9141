// Host keys of the machines we connect to: recorded on first contact (trust on first use), checked on
// every later connect, never prompted for. The file store writes OpenSSH's known_hosts format
// (`host keytype base64`, `[host]:port keytype base64` off port 22) so the same file can be given to
// OpenSSH as UserKnownHostsFile for `ssh <run>` through a fleet host, and `ssh-keygen -R` edits it.
import { createHmac } from 'node:crypto';
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** A host key as the server sent it: its type ("ssh-ed25519") and the SSH wire-format blob. */
export interface HostKey {
  type: string;
  data: Buffer;
}

export type HostKeyVerdict =
  | { status: 'match' }
  /** First contact: the key is now recorded. */
  | { status: 'recorded' }
  /** The host is known with another key; `file:line` is the entry to remove if the change is expected. */
  | { status: 'changed'; knownType: string; file: string; line: number };

export interface HostKeyStore {
  /** Key types recorded for the host: offered first, so the host presents a key we can check. */
  knownTypes(host: string, port: number): Promise<string[]>;
  /** Checks the key a host presented, recording it when the host is new. */
  verify(host: string, port: number, key: HostKey): Promise<HostKeyVerdict>;
}

/** The key type inside an SSH wire-format public key blob (its first string). */
export function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) throw new Error('host key blob too short');
  const len = blob.readUInt32BE(0);
  if (len > blob.length - 4 || len > 64) throw new Error('host key blob malformed');
  return blob.subarray(4, 4 + len).toString('latin1');
}

/** How OpenSSH names a host in known_hosts: bare on port 22, else `[host]:port`. */
export function knownHostName(host: string, port: number): string {
  const h = host.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

interface Entry {
  line: number;
  patterns: string;
  type: string;
  key: string;
}

function globMatch(pattern: string, name: string): boolean {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
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

function parse(text: string): Entry[] {
  const entries: Entry[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    // Markers (@cert-authority, @revoked) are OpenSSH features we do not write; skip them.
    if (!line || line.startsWith('#') || line.startsWith('@')) return;
    const [patterns, type, key] = line.split(/\s+/);
    if (patterns && type && key) entries.push({ line: i + 1, patterns, type, key });
  });
  return entries;
}

/** known_hosts in a file of our own (e.g. `$DSTACK_HOME/ssh/fleet_known_hosts`). */
export class FileHostKeyStore implements HostKeyStore {
  // Fleet hosts connect in parallel: checks and appends to one file go one at a time.
  private static queues = new Map<string, Promise<unknown>>();

  constructor(readonly file: string) {}

  private read(): Entry[] {
    try {
      return parse(readFileSync(this.file, 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  private serial<T>(fn: () => T): Promise<T> {
    const prev = FileHostKeyStore.queues.get(this.file) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    FileHostKeyStore.queues.set(this.file, next.catch(() => undefined));
    return next;
  }

  async knownTypes(host: string, port: number): Promise<string[]> {
    const name = knownHostName(host, port);
    return [...new Set(this.read().filter((e) => hostMatches(e.patterns, name)).map((e) => e.type))];
  }

  verify(host: string, port: number, key: HostKey): Promise<HostKeyVerdict> {
    return this.serial(() => {
      const name = knownHostName(host, port);
      const known = this.read().filter((e) => hostMatches(e.patterns, name));
      const encoded = key.data.toString('base64');
      if (known.some((e) => e.type === key.type && e.key === encoded)) return { status: 'match' } as const;
      if (known.length) {
        const entry = known.find((e) => e.type === key.type) ?? known[0];
        return { status: 'changed', knownType: entry.type, file: this.file, line: entry.line } as const;
      }
      mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
      let prefix = '';
      try {
        const text = readFileSync(this.file, 'utf8');
        if (text && !text.endsWith('\n')) prefix = '\n';
      } catch {
        /* a new file */
      }
      appendFileSync(this.file, `${prefix}${name} ${key.type} ${encoded}\n`, { mode: 0o644 });
      return { status: 'recorded' } as const;
    });
  }
}
