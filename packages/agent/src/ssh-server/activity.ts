// Counts what a user holds open on the job's SSH server, for the inactivity timer. Sessions by kind
// (shell, exec, sftp) and forwarded channels count; so does an authenticated connection that stays
// up past a short grace period (an `ssh -N -L` tunnel, a ControlMaster). Short connections that
// carry nothing (VS Code's and the daemon's probes) never count.
import type { Activity } from '@dstack/core/gen/agent';

export type ActivityKind = 'shell' | 'exec' | 'sftp' | 'portForward' | 'connection';

/** How long a bare connection must live before it counts. */
export const CONNECTION_GRACE_MS = 5_000;

export class ActivityTracker {
  private readonly open: Record<ActivityKind, number> = { shell: 0, exec: 0, sftp: 0, portForward: 0, connection: 0 };
  private lastClosedMs: number;

  constructor(
    private readonly onChange: (a: Activity) => void = () => {},
    private readonly now: () => number = Date.now,
  ) {
    this.lastClosedMs = now();
  }

  /** Marks one item open; the returned function closes it (only the first call counts). */
  begin(kind: ActivityKind): () => void {
    this.open[kind]++;
    this.changed();
    let closed = false;
    return () => {
      if (closed) return;
      closed = true;
      this.open[kind]--;
      this.lastClosedMs = this.now();
      this.changed();
    };
  }

  private busy(): boolean {
    return Object.values(this.open).some((n) => n > 0);
  }

  snapshot(): Activity {
    return {
      shellSessions: this.open.shell,
      execSessions: this.open.exec,
      sftpSessions: this.open.sftp,
      portForwards: this.open.portForward,
      inactiveSeconds: this.busy() ? 0 : Math.max(0, Math.floor((this.now() - this.lastClosedMs) / 1000)),
    };
  }

  private changed(): void {
    this.onChange(this.snapshot());
  }
}
