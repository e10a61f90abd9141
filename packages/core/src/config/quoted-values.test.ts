// Every validation error quotes the value the user wrote (as written: `80GB..40GB`, not the 80..40 GB
// it means), in `FILE:LINE:COL: message` form. One row per error path of the grammar, the resources,
// durations, fleets and dev environments.
import { describe, expect, it } from 'vitest';
import { formatError, parseConfiguration } from './parse';

const DEV = 'type: dev-environment\n';
const SSH = 'type: fleet\nssh_config:\n  user: ubuntu\n  hosts:\n    - a\n';

// [what is wrong, the file, the text its error must quote, line:col of the error]
const ROWS: [string, string, string, string][] = [
  ['a bad name', `${DEV}name: Bad_Name`, '"Bad_Name"', '2:7'],
  ['a name that is a number', `${DEV}name: 12`, '12', '2:7'],
  ['an empty count range', `${DEV}resources:\n  gpu: ..`, '".."', '3:8'],
  ['an empty memory range', `${DEV}resources:\n  memory: ..`, '".."', '3:11'],
  ['a reversed GPU memory range', `${DEV}resources:\n  gpu: 80GB..40GB`, '"80GB..40GB"', '3:8'],
  ['a reversed GPU memory range in a spec', `${DEV}resources:\n  gpu: A100:80GB..40GB:2`, '"80GB..40GB"', '3:8'],
  ['a reversed range in the mapping form', `${DEV}resources:\n  memory: {min: 80GB, max: 40GB}`, '{min: "80GB", max: "40GB"}', '3:11'],
  ['a reversed CPU range', `${DEV}resources:\n  cpu: 8..2`, '"8..2"', '3:8'],
  ['a range with three dots', `${DEV}resources:\n  disk: 1..2..3`, '"1..2..3"', '3:9'],
  ['a bad size', `${DEV}resources:\n  memory: 8GiB`, '"8GiB"', '3:11'],
  ['a negative size', `${DEV}resources:\n  shm_size: -1`, '-1', '3:13'],
  ['a bad count', `${DEV}resources:\n  gpu: {count: two}`, '"two"', '3:16'],
  ['a fractional GPU count', `${DEV}resources:\n  gpu: 1.5`, '1.5', '3:8'],
  ['a bad CPU architecture', `${DEV}resources:\n  cpu: {arch: ppc}`, '"ppc"', '3:15'],
  ['a bad CPU token', `${DEV}resources:\n  cpu: risc:4`, '"risc"', '3:8'],
  ['a bad GPU vendor', `${DEV}resources:\n  gpu: {vendor: ati}`, '"ati"', '3:17'],
  ['a bad compute capability', `${DEV}resources:\n  gpu: {compute_capability: eight}`, '"eight"', '3:29'],
  ['an empty GPU token', `${DEV}resources:\n  gpu: "A100::2"`, '"A100::2"', '3:8'],
  ['a bad duration', `${DEV}max_duration: soon`, '"soon"', '2:15'],
  ['a negative duration', `${DEV}inactivity_duration: -5`, '-5', '2:22'],
  ['a negative retry duration', `${DEV}retry:\n  duration: -1`, '-1', '3:13'],
  ['a bad retry event', `${DEV}retry:\n  on_events: [capacity]`, '"capacity"', '3:15'],
  ['a bad python version', `${DEV}python: "2.7"`, '"2.7"', '2:9'],
  ['a bad env item', `${DEV}env:\n  - 1X=2`, '"1X=2"', '3:5'],
  ['a bad env name', `${DEV}env:\n  1X: 2`, '`1X`', '3:3'],
  ['a bad port', `${DEV}ports: ["80:"]`, '"80:"', '2:9'],
  ['a port out of range', `${DEV}ports: [70000]`, '70000', '2:9'],
  ['a port listed twice', `${DEV}ports: [8080, "9000:8080"]`, '"9000:8080"', '2:15'],
  ['a mount with no path', `${DEV}volumes: [data]`, '"data"', '2:11'],
  ['a relative mount path', `${DEV}volumes: ["vol:rel/path"]`, '"rel/path"', '2:11'],
  ['`..` in a mount path', `${DEV}volumes: ["/a:/b/../c"]`, '"/b/../c"', '2:11'],
  ['a bad optional flag', `${DEV}volumes: [{instance_path: /a, path: /b, optional: maybe}]`, '"maybe"', '2:51'],
  ['a bad user', `${DEV}user: "1000:-5"`, '"1000:-5"', '2:7'],
  ['a bad shell', `${DEV}shell: zsh`, '"zsh"', '2:8'],
  ['a bad Windsurf version', `${DEV}ide: windsurf\nversion: "1.0"`, '"1.0"', '3:10'],
  ['a version without an ide', `${DEV}version: "1.80.0"`, '"1.80.0"', '2:10'],
  ['python with image', `${DEV}image: x\npython: "3.12"`, '"3.12"', '3:9'],
  ['nvcc with image', `${DEV}image: ubuntu\nnvcc: true`, '"ubuntu"', '3:7'],
  ['a bad ide', `${DEV}ide: vim`, '"vim"', '2:6'],
  ['a bad spot policy', `${DEV}spot_policy: cheap`, '"cheap"', '2:14'],
  ['a price that is not positive', `${DEV}max_price: -1`, '-1', '2:12'],
  ['a bad backend', `${DEV}backends: [aws2]`, '"aws2"', '2:12'],
  ['a bad fleet reference', `${DEV}fleets: [main/gpu]`, '"main/gpu"', '2:10'],
  ['a GPU the default image cannot run', `${DEV}resources:\n  gpu: Gaudi2`, '"Gaudi2"', '3:8'],
  ['an ARM CPU with the default image', `${DEV}resources:\n  cpu: arm:8`, '"arm:8"', '3:8'],
  [
    'an unset variable in registry_auth',
    `${DEV}image: x\nregistry_auth:\n  username: u\n  password: \${{ env.NOPE_NOT_SET }}`,
    '`NOPE_NOT_SET`',
    '5:13',
  ],
  ['a control character', `${DEV}image: "a\\u0007b"`, '"a\\u0007b"', '2:8'],
  ['a bad node count', 'type: fleet\nnodes: 3..1', '"3..1"', '2:8'],
  ['a bad node mapping', 'type: fleet\nnodes: {min: 2, target: 1}', '{min: 2, target: 1}', '2:8'],
  ['nodes on an SSH fleet', `${SSH}nodes: 4`, '4', '6:8'],
  ['a bad SSH port', `${SSH}  port: 0`, '0', '6:9'],
  ['a public network', `${SSH}  network: 8.8.8.0/24`, '8.8.8.0/24', '6:12'],
  ['a bad network', `${SSH}  network: 10.0.0.0`, '"10.0.0.0"', '6:12'],
  [
    'a public internal_ip',
    'type: fleet\nssh_config:\n  user: u\n  hosts:\n    - hostname: a\n      internal_ip: 8.8.8.8',
    '8.8.8.8',
    '6:20',
  ],
  ['a host listed twice', 'type: fleet\nssh_config:\n  user: u\n  hosts: [a, a]', 'a:22', '4:14'],
  ['a host with a quote', "type: fleet\nssh_config:\n  user: u\n  hosts: ['a\"b']", '"a\\"b"', '4:11'],
  ['a bad host key', 'type: fleet\nssh_config:\n  user: u\n  hosts:\n    - hostname: a\n      host_key: ssh-foo AAAA', '"ssh-foo"', '6:17'],
  ['a bad placement', 'type: fleet\nnodes: 1\nplacement: rack', '"rack"', '3:12'],
  ['a bad blocks', 'type: fleet\nnodes: 1\nblocks: 0', '0', '3:9'],
];

describe('validation errors quote the value as written', () => {
  it.each(ROWS)('%s', (_, text, quoted, at) => {
    // An empty CLI environment: `${{ env.NAME }}` references are resolved (and may be unset).
    const r = parseConfiguration('x.dstack.yml', `${text}\n`, {});
    expect(r.ok).toBe(false);
    const lines = r.ok ? [] : r.errors.map(formatError);
    const line = lines.find((l) => l.includes(quoted));
    expect(line, `no error quotes ${quoted}:\n${lines.join('\n')}`).toBeDefined();
    expect(line).toMatch(new RegExp(`^x\\.dstack\\.yml:${at}: \\S`));
  });
});
