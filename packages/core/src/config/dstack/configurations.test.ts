// dstack: src/tests/_internal/core/models/test_configurations.py, the cases that apply to a dev
// environment (dstack-ts runs dev environments and fleets; tasks' and services' cases are listed as
// departures). `shell` cases use a task in dstack; the field is the same on a dev environment.
import { describe } from 'vitest';
import type { DevEnvironmentConfiguration as Dev } from '../types';
import { accepts, refuses } from './cases';

const T = 'test_configurations.py';
const W = `${T}::TestDevEnvironmentConfigurationParams`;
const R = `${T}::TestReplicaGroupContainerFields`;

describe('dstack test_configurations.py: shell', () => {
  accepts<Dev>(
    (
      [
        ['None', 'shell: null', null],
        ['sh', 'shell: sh', 'sh'],
        ['bash', 'shell: bash', 'bash'],
        ['/usr/bin/zsh', 'shell: /usr/bin/zsh', '/usr/bin/zsh'],
      ] as const
    ).map(([id, yaml, want]) => ({ from: `${T}::TestParseConfiguration::test_shell_valid[${id}]`, yaml, get: (c: Dev) => c.shell, want })),
  );
  refuses([
    {
      from: `${T}::TestParseConfiguration::test_shell_invalid`,
      yaml: 'shell: zsh',
      error: /use sh, bash, or an absolute path/,
      quote: '"zsh"',
    },
  ]);
});

describe('dstack test_configurations.py: ide and version', () => {
  const ideVersion = (c: Dev) => [c.ide, c.version];
  accepts<Dev>([
    {
      from: `${W}::test_windsurf_version_valid_format`,
      yaml: 'ide: windsurf\nversion: 1.106.0@8951cd3ad688e789573d7f51750d67ae4a0bea7d',
      get: ideVersion,
      want: ['windsurf', '1.106.0@8951cd3ad688e789573d7f51750d67ae4a0bea7d'],
    },
    {
      from: `${W}::test_windsurf_version_valid_short_commit`,
      yaml: 'ide: windsurf\nversion: 1.0.0@abc123',
      get: ideVersion,
      want: ['windsurf', '1.0.0@abc123'],
    },
    { from: `${W}::test_windsurf_version_empty_allowed`, yaml: 'ide: windsurf\nversion: null', get: ideVersion, want: ['windsurf', null] },
    { from: `${W}::test_vscode_version_not_validated`, yaml: 'ide: vscode\nversion: 1.80.0', get: ideVersion, want: ['vscode', '1.80.0'] },
    { from: `${W}::test_cursor_version_not_validated`, yaml: 'ide: cursor\nversion: 0.40.0', get: ideVersion, want: ['cursor', '0.40.0'] },
    { from: `${W}::test_zed_ide_allowed`, yaml: 'ide: zed', get: ideVersion, want: ['zed', null] },
    { from: `${W}::test_zed_version_not_validated`, yaml: 'ide: zed\nversion: 0.100.0', get: ideVersion, want: ['zed', '0.100.0'] },
    { from: `${W}::test_ide_optional`, yaml: 'image: x', get: ideVersion, want: [null, null] },
  ]);
  refuses([
    ...(
      [
        ['missing_at', '1.106.0'],
        ['missing_commit', '1.106.0@'],
        ['missing_version', '@8951cd3ad688e789573d7f51750d67ae4a0bea7d'],
        ['non_hex_commit', '1.106.0@ghijklmnop'],
      ] as const
    ).map(([id, v]) => ({
      from: `${W}::test_windsurf_version_invalid_${id}`,
      yaml: `ide: windsurf\nversion: "${v}"`,
      error: /invalid Windsurf version/,
      quote: JSON.stringify(v),
    })),
    { from: `${W}::test_version_requires_ide`, yaml: 'version: 1.80.0', error: /`version: "1.80.0"` needs `ide`/ },
  ]);
});

describe('dstack test_configurations.py: python and image (replica-group cases, same fields on a dev environment)', () => {
  accepts<Dev>(
    (
      [
        ['3.10 (a YAML float)', 'python: 3.10', '3.10'],
        ['3.12 (a YAML float)', 'python: 3.12', '3.12'],
        ['"3.10"', 'python: "3.10"', '3.10'],
        ['"3.12"', 'python: "3.12"', '3.12'],
      ] as const
    ).map(([id, yaml, want]) => ({ from: `${R}::test_replica_group_python_yaml_coercion[${id}]`, yaml, get: (c: Dev) => c.python, want })),
  );
  accepts<Dev>([
    {
      from: `${R}::test_replica_group_python_nvcc_allowed_together`,
      yaml: 'python: "3.12"\nnvcc: true',
      get: (c) => [c.python, c.nvcc],
      want: ['3.12', true],
    },
  ]);
  refuses([
    {
      from: `${R}::test_replica_group_image_python_mutex`,
      yaml: 'image: x\npython: "3.12"',
      error: /`python: "3.12"` and `image: "x"` are mutually exclusive/,
    },
  ]);
});

describe('dstack test_configurations.py: docker (replica-group cases, same fields on a dev environment)', () => {
  accepts<Dev>([
    {
      from: `${R}::test_replica_group_accepts_image_python_nvcc_docker (the docker group)`,
      yaml: 'docker: true',
      get: (c) => c.docker,
      want: true,
    },
    {
      from: `${R}::test_replica_group_docker_with_privileged_unset_allowed`,
      yaml: 'docker: true',
      get: (c) => c.privileged,
      want: false,
    },
    // dstack refuses this in a replica group only; at the top level (a dev environment's) its model
    // keeps it for compatibility and `docker: true` overrides `privileged`: so does dstack-ts.
    {
      from: `${R}::test_replica_group_docker_with_privileged_false_rejected (top level: accepted, docker overrides privileged)`,
      yaml: 'docker: true\nprivileged: false',
      get: (c) => [c.docker, c.privileged],
      want: [true, false],
    },
  ]);
  refuses(
    (
      [
        ['image', 'image: x'],
        ['python', 'python: "3.12"'],
        ['nvcc', 'nvcc: true'],
      ] as const
    ).map(([key, yaml]) => ({
      from: `${R}::test_replica_group_${key}_docker_mutex`,
      yaml: `${yaml}\ndocker: true`,
      error: new RegExp(`\`${key}\` and \`docker\` are mutually exclusive`),
    })),
  );
});
