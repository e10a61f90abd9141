import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../config';

const parse = (text: string) => parseConfig('/h/config.yml', text);

describe('backends: in config.yml', () => {
  it('reads dstack’s shape, plus api_url and ssh_user', () => {
    const cfg = parse(
      'backends:\n  - type: lambda\n    creds:\n      type: api_key\n      api_key: secret_abc\n    regions: [us-east-1, us-west-1]\n    api_url: http://127.0.0.1:9/api/v1\n    ssh_user: root\n    agent_url: http://mirror.example/dstack-agent-{arch}\n',
    );
    expect(cfg.backends).toEqual([
      {
        type: 'lambda',
        apiKey: 'secret_abc',
        regions: ['us-east-1', 'us-west-1'],
        apiUrl: 'http://127.0.0.1:9/api/v1',
        sshUser: 'root',
        agentUrl: 'http://mirror.example/dstack-agent-{arch}',
        communityCloud: null,
      },
    ]);
    expect(parse('').backends).toEqual([]);
    const rp = parse(
      'backends:\n  - type: runpod\n    creds: {type: api_key, api_key: rpa_x}\n    community_cloud: false\n  - type: vastai\n    creds: {type: api_key, api_key: v}\n',
    );
    expect(rp.backends.map((b) => [b.type, 'communityCloud' in b ? b.communityCloud : undefined])).toEqual([
      ['runpod', false],
      ['vastai', null],
    ]);
  });

  it.each([
    ['backends: lambda\n', '/h/config.yml:1:11: backends: expected a list of backends (- type: lambda ...), got "lambda"'],
    [
      'backends:\n  - type: aws\n    creds: {type: api_key, api_key: k}\n',
      '/h/config.yml:2:11: backends[0].type: "aws" is not supported by this version yet (supported: lambda, runpod, vastai)',
    ],
    [
      'backends:\n  - type: lamda\n',
      '/h/config.yml:2:11: backends[0].type: unknown backend type "lamda" (supported: lambda, runpod, vastai)',
    ],
    [
      'backends:\n  - type: vastai\n    creds: {type: api_key, api_key: k}\n    ssh_user: ubuntu\n',
      '/h/config.yml:2:5: backends[0]: ssh_user is for VM clouds (lambda); a vastai instance is its container, reached as root',
    ],
    [
      'backends:\n  - type: lambda\n    creds: {type: api_key, api_key: k}\n    community_cloud: yes please\n',
      '/h/config.yml:4:22: backends[0].community_cloud: expected true or false, got "yes please"',
    ],
    ['backends:\n  - type: lambda\n', '/h/config.yml:2:5: backends[0]: creds: {type: api_key, api_key: ...} is required'],
    [
      'backends:\n  - type: lambda\n    creds: {type: oauth, api_key: k}\n',
      '/h/config.yml:3:19: backends[0].creds.type: only api_key is supported, got "oauth"',
    ],
    [
      'backends:\n  - type: lambda\n    creds: {type: api_key, api_key: k}\n    api_url: http://cloud.example.com/api\n',
      '/h/config.yml:4:14: backends[0].api_url: expected https:// (http:// only to this machine), keys travel in it, got "http://cloud.example.com/api"',
    ],
    [
      'backends:\n  - type: lambda\n    creds: {type: api_key, api_key: k}\n    region: [x]\n',
      '/h/config.yml:4:5: unknown setting "backends[0].region" (known: type, creds, regions, api_url, agent_url, ssh_user, community_cloud)',
    ],
    [
      'backends:\n  - type: lambda\n    creds: {type: api_key, api_key: k}\n  - type: lambda\n    creds: {type: api_key, api_key: k}\n',
      '/h/config.yml:4:5: backends[1]: a second lambda backend (one entry per type)',
    ],
  ])('refuses %j with one line naming file:line:col', (text, message) => {
    expect(() => parse(text)).toThrow(new ConfigError(message));
  });

  it('never quotes the key back', () => {
    expect(() => parse('backends:\n  - type: lambda\n    creds: {type: api_key, api_key: secret_xyz, extra: 1}\n')).toThrow(
      /unknown setting "backends\[0\].creds.extra"/,
    );
    try {
      parse('backends:\n  - type: lambda\n    creds: {type: api_key, api_key: secret_xyz, extra: 1}\n');
    } catch (err) {
      expect((err as Error).message).not.toContain('secret_xyz');
    }
  });
});
