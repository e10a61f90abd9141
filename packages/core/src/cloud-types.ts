// The GPU clouds this build can create instances on (`backends:` entries, `dstack backend add`):
// one list for the daemon's parser and the CLI's check.
export const CLOUD_TYPES = ['lambda', 'runpod', 'vastai'] as const;
export type CloudType = (typeof CLOUD_TYPES)[number];

/**
 * In the agent's environment (set by the daemon) where the instance is the job's own container (a
 * container cloud): the code is linked at /workflow, and a job ended at its limit ends the container.
 */
export const CONTAINER_INSTANCE_ENV = 'DSTACK_AGENT_CONTAINER_INSTANCE';

/**
 * What a cloud instance costs while this machine's daemon is away (laptop closed): the agent still
 * ends a run at its inactivity_duration or max_duration, but ending the billing may need an API call
 * with the user's key, which only the daemon makes. `dstack ps` and the README say it in these words.
 */
export const BILLING_WHILE_AWAY: Record<CloudType, string> = {
  lambda:
    'Lambda bills an instance until it is terminated, which only an API call with your key does: with the daemon stopped, the agent ends the run at its limits, and the daemon terminates the instance at its next start',
  runpod:
    'with the daemon stopped, the agent ends the run at its limits and the pod’s container exits, which stops its GPU billing; its disk bills until the daemon terminates the pod at its next start',
  vastai:
    'with the daemon stopped, the agent ends the run at its limits and the instance’s container exits, which stops its GPU billing; its disk bills until the daemon destroys the instance at its next start',
};

/** The lines `dstack ps` prints under its table: one per cloud a listed unfinished run is on. */
export function billingNotes(runs: { backend: string; status: string }[]): string[] {
  const finished = new Set(['terminated', 'failed', 'done']);
  const clouds = new Set(runs.filter((r) => !finished.has(r.status)).map((r) => r.backend));
  return CLOUD_TYPES.filter((t) => clouds.has(t)).map((t) => `Note: ${t}: ${BILLING_WHILE_AWAY[t]}.`);
}
