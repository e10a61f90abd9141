// The last line of a run the CLI was following: failed runs are an error (exit 1) with the status
// message and termination reason in one line; any other end is reported and exits 0.
import type { Writable } from 'node:stream';
import type { Run } from '@dstack/core/gen/daemon';
import { UserError } from '../errors';
import { runError } from './runs-table';

export function failureLine(run: Run): string {
  const why = runError(run);
  return `run ${run.name} failed${why ? `: ${why}` : ''}`;
}

export function reportEnd(run: Run, out: Writable): void {
  if (run.status === 'failed') throw new UserError(failureLine(run));
  const why = runError(run);
  out.write(`Run ${run.name} ${run.status}${why ? ` (${why})` : ''}\n`);
}
