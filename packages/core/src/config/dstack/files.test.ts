// dstack: src/tests/_internal/core/models/test_files.py (FilePathMapping, the `files:` key). The job
// path is normalized (`./bar` → `bar`, both relative to /workflow); Windows paths, which dstack reads
// on a Windows client, are refused: dstack-ts runs where paths are Unix ones.
import { describe } from 'vitest';
import type { DevEnvironmentConfiguration } from '../types';
import { accepts, refuses } from './cases';

const T = 'test_files.py::TestFilePathMapping';
const files = (c: DevEnvironmentConfiguration) => c.files;

describe('dstack test_files.py', () => {
  accepts<DevEnvironmentConfiguration>(
    [
      ['test_parse_only_local_path[./file]', './file', { local_path: './file', path: 'file' }],
      ['test_parse_only_local_path[file]', 'file', { local_path: 'file', path: 'file' }],
      ['test_parse_only_local_path[~/file]', '~/file', { local_path: '~/file', path: '~/file' }],
      ['test_parse_only_local_path[/file]', '/file', { local_path: '/file', path: '/file' }],
      ['test_parse_both_paths', './foo:./bar', { local_path: './foo', path: 'bar' }],
    ].map(([test, v, want]) => ({ from: `${T}::${test}`, yaml: `files: ["${v}"]`, get: files, want: [want] })),
  );
  refuses(
    [
      ['test_parse_windows_abs_path', 'C:\\\\dir:dir', /Windows paths are not supported/],
      ['test_error_invalid_mapping_if_more_than_two_parts', './foo:bar:baz', /invalid file mapping/],
      ['test_error_must_be_unix_path[C:\\\\]', 'C:\\\\', /Windows paths are not supported/],
      ['test_error_must_be_unix_path[d:/path/to]', 'd:/path/to', /Windows paths are not supported/],
    ].map(([test, v, error]) => ({ from: `${T}::${test}`, yaml: `files: ["${v}"]`, error: error as RegExp })),
  );
});
