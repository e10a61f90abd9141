// dstack: src/tests/_internal/core/models/test_volumes.py. VolumeMountPoint.parse,
// InstanceMountPoint.parse and parse_mount_point are the string form of a `volumes:` item; the
// parse_obj_as cases are its mapping form.
import { describe } from 'vitest';
import type { DevEnvironmentConfiguration as Dev } from '../types';
import { accepts, refuses } from './cases';

const T = 'test_volumes.py';
const vol = (item: string) => `volumes:\n  - ${item}`;
const first = (c: Dev) => c.volumes[0];

describe('dstack test_volumes.py: accepted mounts, normalized', () => {
  accepts<Dev>([
    {
      from: `${T}::TestVolumeMountPoint::test_parse`,
      yaml: vol('my-vol:/path/./to///dir/'),
      get: first,
      want: { name: ['my-vol'], path: '/path/to/dir' },
    },
    {
      from: `${T}::TestVolumeMountPoint::test_path_normalization`,
      yaml: vol('{name: my-vol, path: /path/./to///dir/}'),
      get: first,
      want: { name: ['my-vol'], path: '/path/to/dir' },
    },
    {
      from: `${T}::TestInstanceBindMountPoint::test_parse`,
      yaml: vol('/host/.//path/:/run//./path'),
      get: first,
      want: { instance_path: '/host/path', path: '/run/path', optional: false },
    },
    {
      from: `${T}::TestInstanceBindMountPoint::test_path_normalization`,
      yaml: vol('{instance_path: /host/.//path/, path: /run//./path}'),
      get: first,
      want: { instance_path: '/host/path', path: '/run/path', optional: false },
    },
    {
      from: `${T}::TestParseMountPoint::test_parse_volume_mount`,
      yaml: vol('my-vol:/path//to'),
      get: first,
      want: { name: ['my-vol'], path: '/path/to' },
    },
    {
      from: `${T}::TestParseMountPoint::test_parse_instance_mount`,
      yaml: vol('/host:/run/'),
      get: first,
      want: { instance_path: '/host', path: '/run', optional: false },
    },
  ]);
});

describe('dstack test_volumes.py: refused mounts', () => {
  const format = (from: string, v: string) => ({
    from,
    yaml: vol(`"${v}"`),
    error: /invalid mount point format/,
    quote: JSON.stringify(v),
  });
  refuses([
    format(`${T}::TestVolumeMountPoint::test_parse_error_invalid_format[my-vol]`, 'my-vol'),
    format(`${T}::TestVolumeMountPoint::test_parse_error_invalid_format[my-vol:/run:ro]`, 'my-vol:/run:ro'),
    format(`${T}::TestInstanceBindMountPoint::test_parse_error_invalid_format[/path]`, '/path'),
    format(`${T}::TestInstanceBindMountPoint::test_parse_error_invalid_format[/host/path:/run/path:ro]`, '/host/path:/run/path:ro'),
    format(`${T}::TestParseMountPoint::test_parse_error_invalid_format[my-vol]`, 'my-vol'),
    format(`${T}::TestParseMountPoint::test_parse_error_invalid_format[my-vol:/run:ro]`, 'my-vol:/run:ro'),
    format(`${T}::TestParseMountPoint::test_parse_error_invalid_format[/path]`, '/path'),
    format(`${T}::TestParseMountPoint::test_parse_error_invalid_format[/host/path:/run/path:ro]`, '/host/path:/run/path:ro'),
    {
      from: `${T}::TestVolumeMountPoint::test_validation_error_empty_path`,
      yaml: vol('{name: vol, path: ""}'),
      error: /empty path/,
      quote: '""',
    },
    {
      from: `${T}::TestVolumeMountPoint::test_validation_error_rel_path`,
      yaml: vol('{name: vol, path: rel/path}'),
      error: /path must be absolute/,
      quote: '"rel/path"',
    },
    {
      from: `${T}::TestVolumeMountPoint::test_validation_error_parent_dir`,
      yaml: vol('{name: vol, path: /path/../to}'),
      error: /`\.\.` segments are not allowed/,
      quote: '"/path/../to"',
    },
    ...(['instance_path', 'path'] as const).flatMap((field) => {
      const item = (v: string) =>
        vol(field === 'path' ? `{instance_path: /instance_path, path: ${v}}` : `{instance_path: ${v}, path: /run_path}`);
      return [
        {
          from: `${T}::TestInstanceBindMountPoint::test_validation_error_empty_path[${field}]`,
          yaml: item('""'),
          error: /empty path/,
          quote: '""',
        },
        {
          from: `${T}::TestInstanceBindMountPoint::test_validation_error_rel_path[${field}]`,
          yaml: item('./rel/path'),
          error: /path must be absolute/,
          quote: '"./rel/path"',
        },
        {
          from: `${T}::TestInstanceBindMountPoint::test_validation_error_parent_dir[${field}]`,
          yaml: item('/path/../to'),
          error: /`\.\.` segments are not allowed/,
          quote: '"/path/../to"',
        },
      ];
    }),
    ...['path/to:/run', './path:/run', 'path/:/run'].map((v) => ({
      from: `${T}::TestParseMountPoint::test_validation_error_rel_local_path[${v}]`,
      yaml: vol(v),
      error: /invalid instance_path .*: path must be absolute/,
      quote: JSON.stringify(v.split(':')[0]),
    })),
  ]);
});
