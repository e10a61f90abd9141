// The limits of a job's SSH server and their defaults, the one place they are written down. The
// daemon's config.yml may set them (`ssh_server:`); a JobSpec carries what was set, 0 meaning "the
// default", and the agent fills in the rest here. Names and defaults follow sshd's, except
// LoginGraceTime (sshd: 2 minutes) and the cap on all connections, which sshd does not have.
import type { SshServerLimits } from './gen/agent';

export type { SshServerLimits };

export const DEFAULT_SSH_SERVER_LIMITS: Readonly<SshServerLimits> = {
  loginGraceTimeSeconds: 30,
  maxStartups: 10,
  maxAuthTries: 6,
  // A person's IDE, terminals, scp and tunnels stay far below this; a runaway client (or a flood
  // that logged in) cannot pin more than this many descriptors of the agent per job.
  maxConnections: 100,
  maxSessions: 10,
};

/** The config.yml key of each limit, as sshd would spell it in lower snake case. */
export const SSH_SERVER_LIMIT_KEYS: Readonly<Record<keyof SshServerLimits, string>> = {
  loginGraceTimeSeconds: 'login_grace_time',
  maxStartups: 'max_startups',
  maxAuthTries: 'max_auth_tries',
  maxConnections: 'max_connections',
  maxSessions: 'max_sessions',
};

/** The limits in force: each field given (non-zero) in `spec`, else its default. */
export function sshServerLimits(spec?: Partial<SshServerLimits>): SshServerLimits {
  const out = { ...DEFAULT_SSH_SERVER_LIMITS };
  for (const k of Object.keys(out) as Array<keyof SshServerLimits>) {
    const v = spec?.[k];
    if (v) out[k] = v;
  }
  return out;
}
