// Everything the agent keeps lives under one data dir (mode 0700):
//   agent.sock          the gRPC socket (mode 0600; --socket moves it)
//   agent.pid           pid of the agent serving this dir
//   instance-id         random id made at first start: tells agents (and their containers) apart
//   native/             native addons unpacked from the executable (pty.node)
//   blobs/ab/<sha256>   content-addressed code blobs, shared by all jobs, kept across jobs
//   uploads/<id>.json   manifests between PutManifest and CommitCode
//   trees/<key>/        the code dir of a removed job, kept for the next job of its repo (code/tree-cache.ts)
//   jobs/<job_id>/      job.json (spec and status; no secret value: those stay in memory), host key, synced.json,
//                       logs/ (bounded segments), workflow/ (the code; /workflow in a container)
import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '@dstack/core/atomic-write';

export class DataDir {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  /** Creates the layout (idempotent) and returns the instance id, made at first start. */
  init(): string {
    mkdirSync(this.root, { recursive: true, mode: 0o700 });
    chmodSync(this.root, 0o700);
    for (const d of [this.nativeDir, this.blobsDir, this.uploadsDir, this.jobsDir]) mkdirSync(d, { recursive: true, mode: 0o700 });
    const idFile = join(this.root, 'instance-id');
    if (!existsSync(idFile)) writeFileAtomic(idFile, `${randomUUID()}\n`);
    return readFileSync(idFile, 'utf8').trim();
  }

  get defaultSocket(): string {
    return join(this.root, 'agent.sock');
  }
  get pidFile(): string {
    return join(this.root, 'agent.pid');
  }
  get nativeDir(): string {
    return join(this.root, 'native');
  }
  get blobsDir(): string {
    return join(this.root, 'blobs');
  }
  get uploadsDir(): string {
    return join(this.root, 'uploads');
  }
  get jobsDir(): string {
    return join(this.root, 'jobs');
  }
  get treesDir(): string {
    return join(this.root, 'trees');
  }
  jobDir(jobId: string): string {
    return join(this.jobsDir, jobId);
  }
}
