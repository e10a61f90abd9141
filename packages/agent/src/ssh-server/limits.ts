// What keeps a job's SSH server usable under a flood, as sshd does it: a cap on unauthenticated
// connections and on all connections (checked at accept), a login grace time, a count of failed
// authentication attempts, a cap on sessions per connection. Every container shares the host's
// network, so anyone on the host can reach the port; without these, half-open connections would
// pile up until the agent runs out of descriptors for every job's SSH and its gRPC socket.
import type { SshServerLimits } from '@dstack/core/ssh-server-limits';

export type DropReason = 'max_connections' | 'max_startups' | 'login_grace_time' | 'max_auth_tries' | 'max_sessions';

/** One admitted connection's place in the counts; each call counts once. */
export interface Admission {
  /** It authenticated: no longer one of the unauthenticated. */
  loggedIn(): void;
  closed(): void;
}

/** Counts a server's connections at accept, and says which limit refuses one more. */
export class ConnectionGate {
  private unauthenticated = 0;
  private total = 0;

  constructor(private readonly limits: Pick<SshServerLimits, 'maxStartups' | 'maxConnections'>) {}

  /** An Admission for a connection just accepted, or the limit it would break (close it at once). */
  admit(): Admission | DropReason {
    if (this.total >= this.limits.maxConnections) return 'max_connections';
    if (this.unauthenticated >= this.limits.maxStartups) return 'max_startups';
    this.total++;
    this.unauthenticated++;
    let authenticated = false;
    let closed = false;
    return {
      loggedIn: () => {
        if (authenticated || closed) return;
        authenticated = true;
        this.unauthenticated--;
      },
      closed: () => {
        if (closed) return;
        closed = true;
        this.total--;
        if (!authenticated) this.unauthenticated--;
      },
    };
  }

  counts(): { unauthenticated: number; total: number } {
    return { unauthenticated: this.unauthenticated, total: this.total };
  }
}

/**
 * Failed authentication attempts on one connection, counted as sshd counts them: a first "none"
 * request is free (OpenSSH sends it to learn the methods); a public key the server does not know
 * is a failure even when the client only asked whether it would do.
 */
export class AuthTries {
  private requests = 0;
  private failures = 0;

  constructor(private readonly max: number) {}

  /** Records one request; true when it was the last failure allowed: disconnect instead of answering. */
  record(method: string, failed: boolean): boolean {
    this.requests++;
    if (!failed || (this.requests === 1 && method === 'none')) return false;
    return ++this.failures >= this.max;
  }
}

/** Why a connection (or a session) was dropped, for the agent log; names the config key. */
export function describeDrop(reason: DropReason, limits: SshServerLimits): string {
  switch (reason) {
    case 'max_connections':
      return `closed at accept: ${limits.maxConnections} connections already open (max_connections)`;
    case 'max_startups':
      return `closed at accept: ${limits.maxStartups} unauthenticated connections already open (max_startups)`;
    case 'login_grace_time':
      return `closed: not authenticated within ${limits.loginGraceTimeSeconds}s (login_grace_time)`;
    case 'max_auth_tries':
      return `disconnected after ${limits.maxAuthTries} failed authentication attempts (max_auth_tries)`;
    case 'max_sessions':
      return `session refused: ${limits.maxSessions} sessions already open on the connection (max_sessions)`;
  }
}

/**
 * Drop lines for the agent log, so that a flood does not flood the log: the first drop of each
 * reason is logged whole, the ones after it within the window only counted, and the count logged
 * when the window ends (which opens another while drops go on).
 */
export class DropLog {
  private readonly windows = new Map<DropReason, { suppressed: number; timer: NodeJS.Timeout }>();

  constructor(
    private readonly log: (line: string) => void,
    private readonly windowMs = 10_000,
  ) {}

  drop(reason: DropReason, line: string): void {
    const window = this.windows.get(reason);
    if (window) window.suppressed++;
    else {
      this.log(line);
      this.open(reason);
    }
  }

  /** Logs what is still only counted; no more lines after this. */
  close(): void {
    for (const [reason, w] of this.windows) {
      clearTimeout(w.timer);
      this.summary(reason, w.suppressed);
    }
    this.windows.clear();
  }

  private open(reason: DropReason): void {
    const window = {
      suppressed: 0,
      timer: setTimeout(() => {
        this.windows.delete(reason);
        if (!window.suppressed) return;
        this.summary(reason, window.suppressed);
        this.open(reason);
      }, this.windowMs),
    };
    window.timer.unref();
    this.windows.set(reason, window);
  }

  private summary(reason: DropReason, suppressed: number): void {
    if (suppressed) this.log(`ssh: ${suppressed} more dropped for ${reason} since the last such line`);
  }
}
