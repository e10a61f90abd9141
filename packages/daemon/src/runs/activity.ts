// Inactivity of a run: the agent counts SSH sessions and forwards (and how long since the last one
// closed); the daemon adds attached CLIs. The run is inactive only when neither has anything open,
// for as long as both agree.
import type { Activity as AgentActivity } from '@dstack/core/gen/agent';

export interface ActivityState {
  /** The agent's last report and when it arrived (our clock). */
  agent?: AgentActivity;
  agentAtMs?: number;
  /** CLIs attached with count_as_activity now. */
  attached: number;
  /** When the last of them detached (our clock). */
  lastDetachMs?: number;
}

export function agentSessions(a: AgentActivity | undefined): number {
  return a ? a.shellSessions + a.execSessions + a.sftpSessions + a.portForwards : 0;
}

/** Seconds the run has been inactive at `nowMs`, or -1 while unknown (no report from the agent yet). */
export function inactiveSeconds(s: ActivityState, nowMs: number): number {
  if (s.attached > 0) return 0;
  if (!s.agent || s.agentAtMs === undefined) return -1;
  if (agentSessions(s.agent) > 0) return 0;
  // The agent counted up to its report; time has gone on since (it reports on change only).
  let inactive = s.agent.inactiveSeconds + Math.max(0, (nowMs - s.agentAtMs) / 1000);
  if (s.lastDetachMs !== undefined) inactive = Math.min(inactive, Math.max(0, (nowMs - s.lastDetachMs) / 1000));
  return Math.floor(inactive);
}
