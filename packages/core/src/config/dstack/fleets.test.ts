// dstack: src/tests/_internal/core/models/test_fleets.py (FleetNodesSpec) and the configuration
// parts of src/tests/_internal/server/routers/test_fleets.py (what a created fleet's configuration
// holds; the rest of that file is the server's database and permissions).
import { describe } from 'vitest';
import type { FleetConfiguration as Fleet } from '../types';
import { accepts, refuses } from './cases';

const T = 'test_fleets.py::TestFleetConfiguration';
const R = 'server/routers/test_fleets.py::TestApplyFleetPlan';

describe('dstack test_fleets.py: nodes', () => {
  accepts<Fleet>(
    (
      [
        ['int', '1', { min: 1, target: 1, max: 1 }],
        ['closed-range', '1..2', { min: 1, target: 1, max: 2 }],
        ['range-without-min', '..2', { min: 0, target: 0, max: 2 }],
        ['range-without-max', '1..', { min: 1, target: 1, max: null }],
        ['dict-without-target', '{min: 1, max: 2}', { min: 1, target: 1, max: 2 }],
        ['dict-with-all-attributes', '{min: 1, target: 2, max: 3}', { min: 1, target: 2, max: 3 }],
        ['dict-without-min', '{target: 2, max: 3}', { min: 0, target: 2, max: 3 }],
        ['dict-empty', '{}', { min: 0, target: 0, max: null }],
      ] as const
    ).map(([id, nodes, want]) => ({
      from: `${T}::test_parses_nodes[${id}]`,
      type: 'fleet' as const,
      yaml: `nodes: ${nodes}`,
      get: (c: Fleet) => c.nodes,
      want,
    })),
  );
  refuses(
    (
      [
        ['min-gt-max', '2..1', '"2..1"', /max is less than min/],
        ['negative-min', '{min: -1}', 'invalid min -1', /expected a whole number ≥ 0/],
        ['negative-target', '{target: -1}', 'invalid target -1', /expected a whole number ≥ 0/],
        ['target-gt-max', '{target: 2, max: 1}', '{target: 2, max: 1}', /max is less than target/],
        ['min-gt-max (mapping)', '{min: 2, max: 1}', '{min: 2, max: 1}', /max is less than min/],
        ['min-gt-target', '{min: 2, target: 1}', '{min: 2, target: 1}', /target is less than min/],
      ] as const
    ).map(([id, nodes, quote, error]) => ({
      from: `${T}::test_rejects_nodes[${id}]`,
      type: 'fleet' as const,
      yaml: `nodes: ${nodes}`,
      error,
      quote,
    })),
  );
});

describe('dstack server/routers/test_fleets.py: the configuration of a created fleet', () => {
  accepts<Fleet>([
    {
      from: `${R}::test_creates_fleet`,
      type: 'fleet',
      yaml: 'name: test-fleet\nnodes: 1',
      get: (c) => [
        c.nodes,
        c.resources.cpu.count,
        c.resources.memory,
        c.resources.disk.size,
        c.resources.shm_size,
        c.blocks,
        c.ssh_config,
        c.env,
      ],
      want: [{ min: 1, target: 1, max: 1 }, { min: 2, max: null }, { min: 8, max: null }, { min: 100, max: null }, null, 1, null, {}],
    },
    {
      from: `${R}::test_creates_ssh_fleet`,
      type: 'fleet',
      yaml: 'name: test-ssh-fleet\nssh_config:\n  user: ubuntu\n  hosts: ["1.1.1.1"]\n  network: null',
      get: (c) => [c.nodes, c.ssh_config && { ...c.ssh_config, hosts: c.ssh_config.hosts.map((h) => h.hostname) }, c.blocks, c.env],
      want: [null, { user: 'ubuntu', port: null, identity_file: null, proxy_jump: null, hosts: ['1.1.1.1'], network: null }, 1, {}],
    },
  ]);
});
