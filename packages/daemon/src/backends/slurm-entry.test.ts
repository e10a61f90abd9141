import { homedir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config';

const parse = (text: string) => parseConfig('/h/config.yml', text);

const CLUSTER =
  '    clusters:\n      - name: lab\n        hostname: login.lab\n        user: alice\n        private_key: {path: ~/.ssh/id_lab}\n';

describe('backends: - type: slurm', () => {
  it('reads dstack’s shape (clusters with name, hostname, port, user, private_key) plus host_key, partitions and pending_timeout', () => {
    const cfg = parse(
      `backends:\n  - type: slurm\n${CLUSTER}        port: 2222\n        host_key: ssh-ed25519 AAAAC3Nza\n        partitions: [gpu]\n    pending_timeout: 90s\n`,
    );
    expect(cfg.backends).toEqual([
      {
        type: 'slurm',
        clusters: [
          {
            name: 'lab',
            hostname: 'login.lab',
            port: 2222,
            user: 'alice',
            identityFile: `${homedir()}/.ssh/id_lab`,
            hostKey: 'ssh-ed25519 AAAAC3Nza',
            partitions: ['gpu'],
          },
        ],
        pendingTimeoutMs: 90_000,
      },
    ]);
    expect(parse(`backends:\n  - type: slurm\n${CLUSTER}`).backends[0]).toMatchObject({ pendingTimeoutMs: 600_000 });
  });

  it.each([
    ['backends:\n  - type: slurm\n', '/h/config.yml:2:5: backends[0]: clusters: is required'],
    [
      'backends:\n  - type: slurm\n    clusters:\n      - name: lab\n        hostname: h\n        user: u\n',
      '/h/config.yml:4:9: backends[0].clusters[0]: private_key: {path: ...} is required',
    ],
    [
      `backends:\n  - type: slurm\n${CLUSTER}        gpu_partitions: []\n`,
      '/h/config.yml:8:9: backends[0].clusters[0].gpu_partitions: not needed by dstack-ts',
    ],
    [
      `backends:\n  - type: slurm\n${CLUSTER}        proxy_jump: {hostname: j}\n`,
      '/h/config.yml:8:9: backends[0].clusters[0].proxy_jump: not supported',
    ],
    [
      `backends:\n  - type: slurm\n${CLUSTER}    pending_timeout: soon\n`,
      '/h/config.yml:8:22: backends[0].pending_timeout: invalid duration "soon"',
    ],
    [`backends:\n  - type: slurm\n${CLUSTER}  - type: slurm\n${CLUSTER}`, '/h/config.yml:8:5: backends[1]: a second slurm backend'],
  ])('%s → %s', (text, message) => {
    expect(() => parse(text)).toThrow(message);
  });
});
