// The states of one run's sync (SyncStatus.state) and the moves between them, as a table.
//   off       sync is not on for the run
//   starting  on, waiting for the run to be up (submitted, provisioning, a retry's wait)
//   syncing   a batch (or the reconcile) is on its way to the agent
//   watching  up to date; watching the repo
//   error     the last batch failed; it is tried again with a backoff (SyncStatus.error says why)
export type SyncState = 'off' | 'starting' | 'syncing' | 'watching' | 'error';

export const SYNC_TRANSITIONS: Record<SyncState, readonly SyncState[]> = {
  off: ['starting'],
  starting: ['syncing', 'error', 'off'],
  syncing: ['watching', 'error', 'starting', 'off'],
  watching: ['syncing', 'error', 'starting', 'off'],
  error: ['syncing', 'starting', 'off'],
};

export function canMove(from: SyncState, to: SyncState): boolean {
  return from === to || SYNC_TRANSITIONS[from].includes(to);
}
