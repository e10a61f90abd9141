// dstack: src/tests/_internal/core/models/test_unix.py (UnixUser.parse): a dev environment's `user`.
import { describe } from 'vitest';
import type { DevEnvironmentConfiguration as Dev } from '../types';
import { accepts, refuses } from './cases';

const T = 'test_unix.py::TestUnixUser';

describe('dstack test_unix.py', () => {
  accepts<Dev>(
    ['0', '1000', 'debian', '1000:2000', '1000:wheel', 'root:0', 'admin:wheel'].map((v) => ({
      from: `${T}::test_ok[${v}]`,
      yaml: `user: "${v}"`,
      get: (c: Dev) => c.user,
      want: v,
    })),
  );
  refuses(
    (
      [
        ['test_too_many_parts', '1000:1000:', /too many parts/],
        ['test_too_many_parts', 'user:group:foo:bar', /too many parts/],
        ['test_empty_user', '', /empty user name or id/],
        ['test_empty_user', ':group', /empty user name or id/],
        ['test_negative_uid', '-1', /negative uid/],
        ['test_negative_uid', '-1:group', /negative uid/],
        ['test_empty_group', 'user:', /empty group name or id/],
        ['test_negative_gid', '1000:-1000', /negative gid/],
      ] as const
    ).map(([test, v, error]) => ({ from: `${T}::${test}[${v}]`, yaml: `user: "${v}"`, error, quote: JSON.stringify(v) })),
  );
  refuses([{ from: `${T}::test_negative_uid[-1] (a YAML number)`, yaml: 'user: -1', error: /user: must be at least 0/, quote: '-1' }]);
});
