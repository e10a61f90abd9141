// Content-addressed blob cache (blobs/ab/<sha256>), shared by all jobs and kept across them, so a
// re-apply of a repo sends only what changed. A blob is written to a temp file while its hash is
// computed and moved into place only when the hash matches its name.
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const SHA_RE = /^[0-9a-f]{64}$/;

export function isSha256(s: string): boolean {
  return SHA_RE.test(s);
}

export class BlobStore {
  /**
   * Blobs known to be stored (blobs are never changed or deleted by the agent): a manifest of
   * 20,000 entries asks has() 20,000 times, twice. A blob not in it is looked for on disk.
   */
  private readonly known = new Set<string>();

  constructor(private readonly dir: string) {
    mkdirSync(join(dir, 'tmp'), { recursive: true, mode: 0o700 });
    if (!this.has(EMPTY_SHA256)) {
      mkdirSync(join(dir, EMPTY_SHA256.slice(0, 2)), { recursive: true });
      closeSync(openSync(this.path(EMPTY_SHA256), 'w', 0o600));
    }
  }

  path(sha: string): string {
    return join(this.dir, sha.slice(0, 2), sha);
  }

  has(sha: string): boolean {
    if (this.known.has(sha)) return true;
    if (!existsSync(this.path(sha))) return false;
    this.known.add(sha);
    return true;
  }

  /** Called by a writer once its blob is in place. */
  stored(sha: string): void {
    this.known.add(sha);
  }

  writer(sha: string): BlobWriter {
    if (!isSha256(sha)) throw new Error(`blob ${JSON.stringify(sha)}: not a sha256 in hex`);
    return new BlobWriter(this, sha, join(this.dir, 'tmp', `${sha}.${randomBytes(6).toString('hex')}`));
  }
}

export class BlobWriter {
  private readonly hash: Hash = createHash('sha256');
  private readonly fd: number;
  bytes = 0;

  constructor(
    private readonly store: BlobStore,
    readonly sha: string,
    private readonly tmp: string,
  ) {
    this.fd = openSync(tmp, 'w', 0o600);
  }

  write(data: Buffer): void {
    this.hash.update(data);
    writeSync(this.fd, data);
    this.bytes += data.length;
  }

  /** Verifies the hash and moves the blob into the cache; throws (and drops it) on a mismatch. */
  finish(): void {
    closeSync(this.fd);
    const got = this.hash.digest('hex');
    if (got !== this.sha) {
      rmSync(this.tmp, { force: true });
      throw new Error(`blob ${this.sha}: its content hashes to ${got}; not stored`);
    }
    const dest = this.store.path(this.sha);
    mkdirSync(join(dest, '..'), { recursive: true, mode: 0o700 });
    renameSync(this.tmp, dest);
    this.store.stored(this.sha);
  }

  abort(): void {
    try {
      closeSync(this.fd);
    } catch {
      /* closed */
    }
    rmSync(this.tmp, { force: true });
  }
}

/**
 * A blob kept in memory instead of the store: a live-sync batch's small files, written once into
 * the code dir at commit and never into the store (creating a file is the slow part of a sync on
 * most disks, and the store would keep every saved version of every file). Verified like a stored one.
 */
export class InlineBlobWriter {
  private readonly hash: Hash = createHash('sha256');
  private readonly parts: Buffer[] = [];
  bytes = 0;

  constructor(
    readonly sha: string,
    private readonly maxBytes: number,
  ) {
    if (!isSha256(sha)) throw new Error(`blob ${JSON.stringify(sha)}: not a sha256 in hex`);
  }

  write(data: Buffer): void {
    this.bytes += data.length;
    if (this.bytes > this.maxBytes) throw new Error(`blob ${this.sha}: longer than the ${this.maxBytes} bytes its manifest entry says`);
    this.hash.update(data);
    this.parts.push(data);
  }

  /** The verified content; throws on a mismatch. */
  finish(): Buffer {
    const got = this.hash.digest('hex');
    if (got !== this.sha) throw new Error(`blob ${this.sha}: its content hashes to ${got}; not stored`);
    return Buffer.concat(this.parts);
  }

  abort(): void {
    this.parts.length = 0;
  }
}
