// Fan-out of job events (status, pull progress, log lines, activity) to the Events streams.
import type { Event } from '@dstack/core/gen/agent';

type Listener = (e: Event) => void;

export class EventBus {
  private readonly listeners = new Set<{ jobId: string; fn: Listener }>();

  /** Every event of `jobId` ("" for all jobs); returns the unsubscribe function. */
  subscribe(jobId: string, fn: Listener): () => void {
    const entry = { jobId, fn };
    this.listeners.add(entry);
    return () => this.listeners.delete(entry);
  }

  publish(e: Event): void {
    for (const l of this.listeners) {
      if (l.jobId && l.jobId !== e.jobId) continue;
      try {
        l.fn(e);
      } catch {
        /* a broken stream must not stop the others */
      }
    }
  }
}
