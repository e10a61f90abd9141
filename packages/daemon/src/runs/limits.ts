// The limits a running run ends at: inactivity_duration (nobody connected for that long: the
// agent's sessions and attached CLIs, activity.ts) and max_duration (time spent running, summed
// over its attempts' running spells). Pure: the tick acts on what this says.
import type { RunRow } from '../state/runs-store';
import { inactiveSeconds, type ActivityState } from './activity';

export interface LimitExceeded {
  reason: 'inactivity_duration_exceeded' | 'max_duration_exceeded';
  message: string;
}

/** The first limit the run is past at `now`, inactivity first; undefined while within both. */
export function exceededLimit(
  row: Pick<RunRow, 'configuration' | 'runningMs' | 'runningSinceMs'>,
  activity: ActivityState,
  now: number,
): LimitExceeded | undefined {
  const config = row.configuration;
  const limit = config.inactivity_duration;
  if (limit !== null && limit > 0) {
    const inactive = inactiveSeconds(activity, now);
    if (inactive >= limit) {
      return { reason: 'inactivity_duration_exceeded', message: `inactive for ${inactive}s (inactivity_duration ${limit}s)` };
    }
  }
  if (config.max_duration !== null && config.max_duration > 0) {
    const running = row.runningMs + (row.runningSinceMs ? now - row.runningSinceMs : 0);
    if (running >= config.max_duration * 1000) {
      return { reason: 'max_duration_exceeded', message: `ran for ${Math.floor(running / 1000)}s (max_duration ${config.max_duration}s)` };
    }
  }
  return undefined;
}
