// Code upload by manifest: send the tree (path, mode, size, sha256, symlinks), the agent answers
// which blobs it lacks, stream only those (small ones packed, large ones in chunks), then commit.
// The agent keeps an apply's blobs by hash, so a re-apply after one edit sends one file's bytes.
import type { ManifestEntry } from '@dstack/core/gen/agent';
import { open, readFile } from 'node:fs/promises';
import type { AgentRpc } from '../agent/rpc';
import type { HashedFile } from './hash-cache';

export const CHUNK_BYTES = 1024 * 1024;
/** Files up to this size travel whole, packed into messages of about PACK_BYTES. */
export const PACKED_FILE_MAX = 64 * 1024;
const PACK_BYTES = 1024 * 1024;
const READ_PARALLEL = 32;

export interface UploadProgress {
  current: number;
  total: number;
  message: string;
}

export interface UploadResult {
  uploadId: string;
  /** Milliseconds in the manifest and blob phase (manifestMs of it in PutManifest), and in the agent's commit (writing the code dir). */
  transferMs: number;
  manifestMs: number;
  commitMs: number;
  files: number;
  bytes: number;
  /** Blobs and bytes that actually travelled. */
  sentBlobs: number;
  sentBytes: number;
  written: number;
  removed: number;
  /** Files changed on the instance since they were last synced; `localDeleted`: the local side removed it. */
  conflicts: { path: string; keptAs: string; localDeleted: boolean }[];
}

/** What kind of manifest: the whole tree (apply), or a delta with removals (live sync). */
export interface ManifestKind {
  full: boolean;
  removed?: string[];
  localChangesOnly?: boolean;
}

export function toManifest(files: HashedFile[]): ManifestEntry[] {
  return files.map((f) => ({
    path: f.path,
    // Permission bits only (the agent masks them too): never setuid, setgid or sticky.
    mode: f.mode & 0o777,
    size: f.size,
    sha256: f.sha256,
    symlinkTarget: f.symlinkTarget ?? '',
    directory: false,
  }));
}

export class FileChangedError extends Error {
  override name = 'FileChangedError';
}

export async function uploadCode(
  agent: AgentRpc,
  jobId: string,
  files: HashedFile[],
  onProgress: (p: UploadProgress) => void = () => {},
  kind: ManifestKind = { full: true },
): Promise<UploadResult> {
  const t0 = Date.now();
  const entries = toManifest(files);
  const manifest = await agent.putManifest({
    jobId,
    full: kind.full,
    entries,
    removed: kind.removed ?? [],
    localChangesOnly: kind.localChangesOnly,
  });
  const manifestMs = Date.now() - t0;
  const bySha = new Map<string, HashedFile>();
  for (const f of files) if (f.sha256 && !bySha.has(f.sha256)) bySha.set(f.sha256, f);
  const missing = manifest.missing.map((sha) => {
    const f = bySha.get(sha);
    if (!f) throw new Error(`the agent asked for blob ${sha}, which is not in the manifest`);
    return f;
  });
  const total = missing.reduce((n, f) => n + f.size, 0);
  let sent = 0;
  onProgress({ current: 0, total, message: `uploading ${missing.length} of ${files.length} files` });
  if (missing.length) {
    const { stream, done } = agent.putBlobs();
    // A rejected `done` (the agent refused) must not be left unhandled while we are still writing.
    const settled = done.then(
      (r) => ({ ok: true as const, r }),
      (e: unknown) => ({ ok: false as const, e }),
    );
    const write = (chunk: Parameters<typeof stream.write>[0]) =>
      new Promise<void>((resolve, reject) => {
        const ok = stream.write(chunk, (err: Error | null | undefined) => (err ? reject(err) : undefined));
        if (ok) resolve();
        else stream.once('drain', resolve);
      });
    try {
      // Small files go whole, many to a message (a message each made gRPC's per-message work on both
      // sides the bulk of a branch switch's upload), read a slice at a time in parallel; large ones in chunks.
      const small = missing.filter((f) => f.size <= PACKED_FILE_MAX);
      const large = missing.filter((f) => f.size > PACKED_FILE_MAX);
      let pack: { sha256: string; data: Buffer }[] = [];
      let packBytes = 0;
      const flush = async () => {
        if (!pack.length) return;
        await write({ uploadId: manifest.uploadId, sha256: '', data: Buffer.alloc(0), last: false, blobs: pack });
        pack = [];
        packBytes = 0;
      };
      for (let i = 0; i < small.length; i += READ_PARALLEL) {
        const slice = small.slice(i, i + READ_PARALLEL);
        // Bytes kept from hashing are the ones the sha256 is of; the rest are read now.
        const datas = await Promise.all(slice.map((f) => f.data ?? readFile(f.abs)));
        for (const [k, f] of slice.entries()) {
          if (datas[k].length !== f.size)
            throw new FileChangedError(`${f.path} ${datas[k].length > f.size ? 'grew' : 'shrank'} while it was uploaded: apply again`);
          pack.push({ sha256: f.sha256, data: datas[k] });
          packBytes += f.size;
          sent += f.size;
          if (packBytes >= PACK_BYTES) await flush();
        }
        onProgress({ current: sent, total, message: slice[slice.length - 1].path });
      }
      await flush();
      for (const f of large) {
        if (f.data) {
          if (f.data.length !== f.size)
            throw new FileChangedError(`${f.path} ${f.data.length > f.size ? 'grew' : 'shrank'} while it was uploaded: apply again`);
          for (let at = 0; at < f.size; at += CHUNK_BYTES) {
            const data = f.data.subarray(at, at + CHUNK_BYTES);
            await write({ uploadId: manifest.uploadId, sha256: f.sha256, data, last: at + data.length === f.size, blobs: [] });
            sent += data.length;
            onProgress({ current: sent, total, message: f.path });
          }
          continue;
        }
        const fh = await open(f.abs, 'r');
        try {
          let read = 0;
          const buf = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, Math.max(1, f.size)));
          for (;;) {
            const { bytesRead } = await fh.read(buf, 0, buf.length, read);
            read += bytesRead;
            if (read > f.size) throw new FileChangedError(`${f.path} grew while it was uploaded: apply again`);
            if (bytesRead === 0 && read !== f.size) throw new FileChangedError(`${f.path} shrank while it was uploaded: apply again`);
            const last = read === f.size;
            if (bytesRead > 0 || last) {
              await write({
                uploadId: manifest.uploadId,
                sha256: f.sha256,
                data: Buffer.from(buf.subarray(0, bytesRead)),
                last,
                blobs: [],
              });
              sent += bytesRead;
              onProgress({ current: sent, total, message: f.path });
            }
            if (last) break;
          }
        } finally {
          await fh.close();
        }
      }
      stream.end();
    } catch (err) {
      stream.cancel();
      await settled;
      throw err;
    }
    const res = await settled;
    if (!res.ok) throw res.e;
  }
  const t1 = Date.now();
  const commit = await agent.commitCode({ uploadId: manifest.uploadId });
  return {
    uploadId: manifest.uploadId,
    transferMs: t1 - t0,
    manifestMs,
    commitMs: Date.now() - t1,
    files: files.length,
    bytes: files.reduce((n, f) => n + f.size, 0),
    sentBlobs: missing.length,
    sentBytes: sent,
    written: commit.written,
    removed: commit.removed,
    conflicts: commit.conflicts.map((c) => ({ path: c.path, keptAs: c.keptAs, localDeleted: !c.localSha256 })),
  };
}
