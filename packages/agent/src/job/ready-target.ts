// The job's SSH server listens from the moment the job is submitted, so its port and host key reach
// the daemon with the job's first `starting` report and `ssh NAME` can connect while the container
// is still being made. Sessions that arrive before the job is ready (container started, profile
// written) wait for it here, and get a one-line error if the job fails or stops first.
import { sessionUser } from '../ssh-server/target-user';
import type { SessionTarget } from '../ssh-server/target';

export class ReadyGate {
  private settled = false;
  private resolveFn!: () => void;
  private rejectFn!: (err: Error) => void;
  readonly promise: Promise<void>;

  constructor() {
    this.promise = new Promise<void>((resolve, reject) => {
      this.resolveFn = resolve;
      this.rejectFn = reject;
    });
    this.promise.catch(() => {}); // nobody waiting is fine
  }

  open(): void {
    if (this.settled) return;
    this.settled = true;
    this.resolveFn();
  }

  fail(err: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.rejectFn(err);
  }
}

/** A target that waits for the gate, then hands every call to the runtime's target (made once). */
export function gatedTarget(kind: SessionTarget['kind'], workingDir: string, gate: ReadyGate, make: () => SessionTarget): SessionTarget {
  let real: SessionTarget | undefined;
  const ready = async () => {
    await gate.promise;
    return (real ??= make());
  };
  return {
    kind,
    workingDir,
    spawn: async (o) => (await ready()).spawn(o),
    fsRoot: async () => (await ready()).fsRoot(),
    user: async () => sessionUser(await ready()),
  };
}
