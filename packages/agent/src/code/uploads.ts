// The three steps of a code upload: PutManifest (validate, answer which blobs are missing), PutBlobs
// (store them, verified), CommitCode (write the tree into the job's code dir). A manifest waits in
// uploads/<id>.json between the steps, so an agent restart in between loses no manifest; a live-sync
// batch's small blobs wait in memory (see receive()), so a restart costs that batch a resend.
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { BlobChunk, ManifestEntry, PutManifestRequest, PutManifestResponse } from '@dstack/core/gen/agent';
import { writeFileAtomic } from '@dstack/core/atomic-write';
import { readJson } from '../files';
import { BlobStore, InlineBlobWriter, isSha256, type BlobWriter } from './blobs';
import { PathError, checkRelPath } from '../safe-fs/tree-dirs';

export interface Upload {
  id: string;
  jobId: string;
  full: boolean;
  entries: ManifestEntry[];
  removed: string[];
  /** PutManifestRequest.local_changes_only (absent in uploads written by older agents). */
  localChangesOnly?: boolean;
  createdMs: number;
}

/** A live-sync blob up to this size is kept in memory until its commit, up to this much per upload. */
export const INLINE_BLOB_MAX = 256 * 1024;
export const INLINE_UPLOAD_MAX = 64 * 1024 * 1024;

/** Uploads older than this are dropped at start-up. */
const UPLOAD_TTL_MS = 24 * 3600_000;

/**
 * Permission bits only: setuid, setgid and sticky bits are dropped at intake, so a manifest can never
 * make a setuid file in a code dir that the job (or a user who can write the repo) controls.
 */
const MODE_MASK = 0o777;

function maskModes(entries: ManifestEntry[]): ManifestEntry[] {
  return entries.map((e) => ((e.mode & ~MODE_MASK) === 0 ? e : { ...e, mode: e.mode & MODE_MASK }));
}

/** Checks a manifest; throws a PathError (or Error) that names the bad entry. */
export function validateManifest(req: PutManifestRequest): void {
  const seen = new Set<string>();
  req.entries.forEach((e, i) => {
    const where = `manifest entry ${i + 1} (${JSON.stringify(e.path)})`;
    const path = checkRelPath(e.path);
    if (seen.has(path)) throw new PathError(`${where}: the path appears twice`);
    seen.add(path);
    const kinds = [e.directory, !!e.symlinkTarget, !e.directory && !e.symlinkTarget].filter(Boolean).length;
    if (kinds !== 1) throw new Error(`${where}: a directory cannot have a symlink target`);
    if (!e.directory && !e.symlinkTarget && !isSha256(e.sha256))
      throw new Error(`${where}: sha256 ${JSON.stringify(e.sha256)} is not 64 hex digits`);
    if (e.symlinkTarget.includes('\0')) throw new PathError(`${where}: the symlink target contains a NUL byte`);
  });
  for (const p of req.removed) checkRelPath(p);
  // A path under a symlink of the same manifest would be written through the link.
  const links = new Set(req.entries.filter((e) => e.symlinkTarget).map((e) => checkRelPath(e.path)));
  if (links.size) {
    for (const e of req.entries) {
      const parts = checkRelPath(e.path).split('/');
      for (let i = 1; i < parts.length; i++) {
        const prefix = parts.slice(0, i).join('/');
        if (links.has(prefix))
          throw new PathError(
            `path ${JSON.stringify(e.path)} escapes the code dir: ${JSON.stringify(prefix)} is a symlink in the manifest`,
          );
      }
    }
  }
}

export class Uploads {
  readonly blobs: BlobStore;
  /** Uploads between PutManifest and CommitCode, parsed (a 20,000-entry manifest is megabytes of JSON). */
  private readonly open = new Map<string, Upload>();
  /** Per open upload, its blobs held in memory (receive()); dropped with the upload. */
  private readonly inline = new Map<string, { bytes: number; blobs: Map<string, Buffer> }>();

  constructor(
    private readonly dir: string,
    blobsDir: string,
  ) {
    this.blobs = new BlobStore(blobsDir);
    for (const f of existsSync(dir) ? readdirSync(dir) : []) {
      const p = join(dir, f);
      if (Date.now() - statSync(p).mtimeMs > UPLOAD_TTL_MS) rmSync(p, { force: true });
    }
  }

  private file(id: string): string {
    return join(this.dir, `${id}.json`);
  }

  put(req: PutManifestRequest): PutManifestResponse {
    validateManifest(req);
    const upload: Upload = {
      id: randomUUID(),
      jobId: req.jobId,
      full: req.full,
      entries: maskModes(req.entries),
      removed: req.removed,
      localChangesOnly: req.localChangesOnly,
      createdMs: Date.now(),
    };
    // Not fsynced: after a power cut the daemon gets "unknown upload" and sends the manifest again.
    writeFileAtomic(this.file(upload.id), JSON.stringify(upload), { durable: false });
    this.remember(upload);
    const missing = new Map<string, number>();
    for (const e of req.entries) {
      if (e.directory || e.symlinkTarget || missing.has(e.sha256)) continue;
      if (!this.blobs.has(e.sha256)) missing.set(e.sha256, e.size);
    }
    let missingBytes = 0;
    for (const size of missing.values()) missingBytes += size;
    return { uploadId: upload.id, missing: [...missing.keys()], missingBytes };
  }

  get(id: string): Upload {
    const known = this.open.get(id);
    if (known) return known;
    if (!/^[0-9a-f-]{36}$/.test(id) || !existsSync(this.file(id))) throw new UnknownUpload(id);
    const stored = readJson<Upload>(this.file(id));
    // Written by an agent from before the mask, perhaps.
    const upload = { ...stored, entries: maskModes(stored.entries) };
    this.remember(upload);
    return upload;
  }

  /**
   * Stores a stream of chunks (each blob's chunks in a row, `last` on its final one). A live-sync
   * batch's small blobs stay in memory until its commit (InlineBlobWriter); an agent restart in
   * between loses them, and the commit then says which to send again (the daemon resends the batch).
   */
  async receive(chunks: AsyncIterable<BlobChunk>): Promise<{ blobs: number; bytes: number }> {
    let writer: BlobWriter | InlineBlobWriter | undefined;
    let blobs = 0;
    let bytes = 0;
    const sizes = new Map<string, Map<string, number>>();
    /** A live-sync upload's file sizes by sha (for the in-memory choice); empty for a full upload. */
    const sizesOf = (uploadId: string) => {
      let sizeOf = sizes.get(uploadId);
      if (!sizeOf) {
        const upload = this.get(uploadId);
        // Full uploads (an apply) go to the store: a later apply of the same repo reuses them.
        sizeOf = upload.full
          ? new Map()
          : new Map(upload.entries.filter((e) => !e.directory && !e.symlinkTarget).map((e) => [e.sha256, e.size]));
        sizes.set(uploadId, sizeOf);
      }
      return sizeOf;
    };
    const open = (uploadId: string, sha: string) => {
      const size = sizesOf(uploadId).get(sha);
      const inline = this.inlineOf(uploadId);
      return size !== undefined && size <= INLINE_BLOB_MAX && inline.bytes + size <= INLINE_UPLOAD_MAX
        ? new InlineBlobWriter(sha, size)
        : this.blobs.writer(sha);
    };
    const finish = (uploadId: string, w: BlobWriter | InlineBlobWriter) => {
      if (w instanceof InlineBlobWriter) {
        const inline = this.inlineOf(uploadId);
        const data = w.finish();
        if (!inline.blobs.has(w.sha)) inline.bytes += data.length;
        inline.blobs.set(w.sha, data);
      } else w.finish();
      blobs++;
    };
    try {
      for await (const c of chunks) {
        if (c.blobs.length) {
          if (writer) throw new Error(`blob ${writer.sha} ended without a chunk marked last`);
          if (c.sha256 || c.data.length) throw new Error('a message of PutBlobs carries packed blobs and a chunk: send them apart');
          for (const b of c.blobs) {
            writer = open(c.uploadId, b.sha256);
            writer.write(b.data);
            bytes += b.data.length;
            finish(c.uploadId, writer);
            writer = undefined;
          }
          continue;
        }
        if (writer && writer.sha !== c.sha256) throw new Error(`blob ${writer.sha} ended without a chunk marked last`);
        writer ??= open(c.uploadId, c.sha256);
        writer.write(c.data);
        bytes += c.data.length;
        if (c.last) {
          finish(c.uploadId, writer);
          writer = undefined;
        }
      }
      if (writer) throw new Error(`blob ${writer.sha} ended without a chunk marked last`);
    } catch (err) {
      writer?.abort();
      throw err;
    }
    return { blobs, bytes };
  }

  private inlineOf(id: string): { bytes: number; blobs: Map<string, Buffer> } {
    let inline = this.inline.get(id);
    if (!inline) this.inline.set(id, (inline = { bytes: 0, blobs: new Map() }));
    return inline;
  }

  /**
   * Runs `write` over the upload once all its blobs are here (`inline`: the small ones held in
   * memory), then drops the upload. The writers: a new job's exact commit (tree-commit.ts), a merge
   * commit (sync.ts).
   */
  async finish<T>(upload: Upload, write: (upload: Upload, inline?: ReadonlyMap<string, Buffer>) => Promise<T>): Promise<T> {
    this.requireBlobs(upload);
    const result = await write(upload, this.inline.get(upload.id)?.blobs);
    this.drop(upload.id);
    return result;
  }

  /** Keeps the last few in memory; an abandoned one is read from its file again if it comes back. */
  private remember(upload: Upload): void {
    this.open.set(upload.id, upload);
    for (const id of this.open.keys()) {
      if (this.open.size <= 8) break;
      this.open.delete(id);
      this.inline.delete(id);
    }
  }

  private drop(id: string): void {
    this.open.delete(id);
    this.inline.delete(id);
    rmSync(this.file(id), { force: true });
  }

  private requireBlobs(upload: Upload): void {
    const inline = this.inline.get(upload.id)?.blobs;
    const lacking = new Set(
      upload.entries
        .filter((e) => !e.directory && !e.symlinkTarget && !inline?.has(e.sha256) && !this.blobs.has(e.sha256))
        .map((e) => e.sha256),
    );
    if (lacking.size)
      throw new Error(
        `upload ${upload.id}: ${lacking.size} blob(s) were never sent (first: ${[...lacking][0]}); send them with PutBlobs, then commit again`,
      );
  }
}

export class UnknownUpload extends Error {
  constructor(id: string) {
    super(`upload ${JSON.stringify(id)} is unknown (committed already, or expired): send the manifest again`);
    this.name = 'UnknownUpload';
  }
}
