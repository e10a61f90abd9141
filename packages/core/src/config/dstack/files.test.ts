// dstack: src/tests/_internal/core/models/test_files.py (FilePathMapping, the `files:` key). dstack-ts
// refuses `files` on purpose (see config-departures.md): each case here checks that refusal, which
// names the key, instead of dstack's parse.
import { describe } from 'vitest';
import { refuses } from './cases';

const T = 'test_files.py::TestFilePathMapping';

describe('dstack test_files.py (files: refused by dstack-ts)', () => {
  refuses(
    [
      ['test_parse_only_local_path[./file]', './file'],
      ['test_parse_only_local_path[file]', 'file'],
      ['test_parse_only_local_path[~/file]', '~/file'],
      ['test_parse_only_local_path[/file]', '/file'],
      ['test_parse_both_paths', './foo:./bar'],
      ['test_parse_windows_abs_path', 'C:\\\\dir:dir'],
      ['test_error_invalid_mapping_if_more_than_two_parts', './foo:bar:baz'],
      ['test_error_must_be_unix_path[C:\\\\]', 'C:\\\\'],
      ['test_error_must_be_unix_path[d:/path/to]', 'd:/path/to'],
    ].map(([test, v]) => ({ from: `${T}::${test}`, yaml: `files: ["${v}"]`, error: /`files` is not supported by dstack-ts/ })),
  );
});
