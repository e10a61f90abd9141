// dstack: src/tests/_internal/core/models/test_profiles.py. `instances` (a newer key) is left out;
// `backend_options` is a key dstack-ts refuses (see the departures). The fleet references dstack
// refuses in an `instances` selector are the references `fleets:` takes.
import { describe } from 'vitest';
import { refuses } from './cases';

const T = 'test_profiles.py';

describe('dstack test_profiles.py', () => {
  refuses([
    ...['', 'a/b/c', '/my-fleet', 'my-project/'].map((fleet) => ({
      from: `${T}::TestProfileInstances::test_rejects_invalid_fleet_selector_reference[${fleet}]`,
      yaml: `fleets: ["${fleet}"]`,
      error: /fleets\[0\]: invalid fleet (reference|name)/,
      quote: JSON.stringify(fleet),
    })),
    // dstack-ts departs: these are accepted by dstack (see config-departures.md).
    ...['test_single_entry_per_backend_is_valid', 'test_empty_list_backend_options_is_valid'].map((test) => ({
      from: `${T}::TestValidateProfileBackendOptions::${test} (refused on purpose)`,
      yaml: 'backend_options: []',
      error: /unknown key `backend_options`/,
    })),
  ]);
});
