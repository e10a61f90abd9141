// Trees for code-upload suites: a file map → a manifest, the blob chunks the agent asks for, and a
// whole upload (PutManifest, PutBlobs, CommitCode) into a job.
import { createHash } from 'node:crypto';
import type { BlobChunk, ManifestEntry } from '@dstack/core/gen/agent';
import type { AgentProcess } from './agent';

export { treeSnapshot } from '../harness/tree-snapshot';

export const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

export interface FileSpec {
  content?: string;
  mode?: number;
  link?: string;
  dir?: boolean;
}

export function manifest(tree: Record<string, FileSpec>): ManifestEntry[] {
  return Object.entries(tree).map(([path, f]) => ({
    path,
    mode: f.mode ?? (f.dir ? 0o755 : 0o644),
    size: f.content ? Buffer.byteLength(f.content) : 0,
    sha256: f.content !== undefined ? sha(f.content) : '',
    symlinkTarget: f.link ?? '',
    directory: !!f.dir,
  }));
}

/** Chunks of the blobs asked for (in pieces of `size` bytes, to exercise multi-chunk blobs). */
export function chunks(uploadId: string, tree: Record<string, FileSpec>, missing: string[], size = 7): BlobChunk[] {
  const out: BlobChunk[] = [];
  for (const want of missing) {
    const content = Buffer.from(Object.values(tree).find((f) => f.content !== undefined && sha(f.content) === want)!.content!);
    for (let i = 0; i < Math.max(1, content.length); i += size) {
      out.push({ uploadId, sha256: want, data: content.subarray(i, i + size), last: i + size >= content.length, blobs: [] });
    }
  }
  return out;
}

/** A full upload of `tree` into the job, as the daemon does it. */
export async function uploadTree(agent: AgentProcess, jobId: string, tree: Record<string, FileSpec>) {
  const m = await agent.putManifest({ jobId, full: true, entries: manifest(tree), removed: [] });
  if (m.missing.length) await agent.putBlobs(chunks(m.uploadId, tree, m.missing, 1 << 20));
  return { manifest: m, commit: await agent.commitCode(m.uploadId) };
}
