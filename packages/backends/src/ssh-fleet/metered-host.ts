// A HostConnection that counts the bytes it uploads: what a fleet apply reports per host (the agent
// is sent compressed, and not at all when the host has that exact build).
import { Transform, type Duplex, type Readable } from 'node:stream';
import type { ExecOptions, ExecResult, HostConnection } from '../host-connection';

export class MeteredHost implements HostConnection {
  uploadedBytes = 0;

  constructor(readonly inner: HostConnection) {}

  get description(): string {
    return this.inner.description;
  }

  exec(command: string, opts?: ExecOptions): Promise<ExecResult> {
    return this.inner.exec(command, opts);
  }

  upload(source: Readable, remotePath: string, mode?: number): Promise<void> {
    const counter = new Transform({
      transform: (chunk: Buffer, _enc, cb) => {
        this.uploadedBytes += chunk.length;
        cb(null, chunk);
      },
    });
    source.once('error', (err) => counter.destroy(err));
    // An upload that fails destroys what it was given: the source goes with it.
    counter.once('close', () => {
      if (!source.readableEnded) source.destroy();
    });
    return this.inner.upload(source.pipe(counter), remotePath, mode);
  }

  openUnixSocket(path: string): Promise<Duplex> {
    return this.inner.openUnixSocket(path);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
