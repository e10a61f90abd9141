// dstack: src/tests/_internal/core/models/test_runs.py, the configuration cases of TestRunSpec (the
// rest are enum mappings of the server's run states, and RunSpec fields a `.dstack.yml` has no place for).
import { describe } from 'vitest';
import type { DevEnvironmentConfiguration as Dev } from '../types';
import { accepts, refuses } from './cases';

const T = 'test_runs.py::TestRunSpec';

describe('dstack test_runs.py', () => {
  refuses([
    {
      from: `${T}::test_extra_ignored_on_read_path[configuration]`,
      yaml: 'new_prop: 1',
      error: /unknown key `new_prop` in the dev-environment configuration/,
    },
    {
      from: `${T}::test_extra_ignored_on_read_path[nested-in-configuration]`,
      yaml: 'resources:\n  gpu: {name: [A100], new_prop: 1}',
      error: /unknown key `new_prop` in resources.gpu/,
    },
  ]);
  accepts<Dev>([
    {
      from: `${T}::test_configuration_profile_params_override_profile`,
      yaml: 'spot_policy: spot\nmax_price: 1.5',
      get: (c) => [c.spot_policy, c.max_price, c.creation_policy],
      want: ['spot', 1.5, 'reuse-or-create'],
    },
  ]);
});
