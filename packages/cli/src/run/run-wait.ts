// Waiting on a run from the outside (stop, override): poll until it has finished.
import type { Run } from '@dstack/core/gen/daemon';
import type { Daemon } from '../daemon/client';
import { UserError } from '../errors';
import { spinner } from '../ui/progress';
import { isFinished } from './runs-table';

export async function waitUntilFinished(daemon: Daemon, name: string, { timeoutMs = 180_000, text = 'Stopping...' } = {}): Promise<Run> {
  const spin = spinner(text, { delayMs: 300 });
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      const run = await daemon.getRun(name);
      if (isFinished(run.status)) return run;
      if (Date.now() > deadline) {
        throw new UserError(`run ${name} is still ${run.status} after ${Math.round(timeoutMs / 1000)} s: see \`dstack ps -v\``);
      }
      await new Promise((r) => setTimeout(r, 300));
    }
  } finally {
    spin.stop();
  }
}
