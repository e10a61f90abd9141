import { describe, expect, it } from 'vitest';
import { billingNotes } from './cloud-types';

describe('billingNotes', () => {
  it('says, once per cloud with an unfinished run, what its instances cost with the daemon away', () => {
    const notes = billingNotes([
      { backend: 'lambda', status: 'running' },
      { backend: 'lambda', status: 'provisioning' },
      { backend: 'runpod', status: 'terminated' },
      { backend: 'vastai', status: 'running' },
      { backend: 'local', status: 'running' },
    ]);
    expect(notes).toEqual([
      expect.stringMatching(/^Note: lambda: Lambda bills an instance until it is terminated, .* at its next start\.$/),
      expect.stringMatching(/^Note: vastai: .*container exits, which stops its GPU billing; its disk bills until the daemon destroys/),
    ]);
    expect(billingNotes([{ backend: 'ssh', status: 'running' }])).toEqual([]);
  });
});
