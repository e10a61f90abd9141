import { describe, expect, it } from 'vitest';
import { agentEnvironment } from './agent-env';

describe("the local agent's environment", () => {
  it("keeps what the agent needs and nothing else of the daemon's", () => {
    const daemon = {
      PATH: '/usr/bin:/bin',
      HOME: '/home/me',
      LANG: 'C.UTF-8',
      LC_TIME: 'de_DE.UTF-8',
      TZ: 'Europe/Berlin',
      TMPDIR: '/tmp/me',
      DOCKER_HOST: 'unix:///run/docker.sock',
      DSTACK_VSCODE_SERVER_URL: 'http://mirror/{commit}',
      DSTACK_AGENT_EXEC_STREAM: '1',
      DSTACK_VSCODE_SERVER_SHA256_URL: 'https://mirror/sha',
      DSTACK_VSCODE_EXTENSION_URL: 'https://mirror/{publisher}/{name}.vsix',
      NODE_EXTRA_CA_CERTS: '/etc/mirror-ca.pem',
      HF_TOKEN: 'hf_secret',
      AWS_SECRET_ACCESS_KEY: 'aws',
      SSH_AUTH_SOCK: '/tmp/agent.sock',
      DSTACK_HOME: '/home/me/.dstack',
      REG_PASSWORD: 'pw',
      NODE_OPTIONS: '--inspect',
      LD_PRELOAD: '/x.so',
      LC_lower: 'x',
    };
    expect(agentEnvironment(daemon)).toEqual({
      PATH: '/usr/bin:/bin',
      HOME: '/home/me',
      LANG: 'C.UTF-8',
      LC_TIME: 'de_DE.UTF-8',
      TZ: 'Europe/Berlin',
      TMPDIR: '/tmp/me',
      DOCKER_HOST: 'unix:///run/docker.sock',
      DSTACK_VSCODE_SERVER_URL: 'http://mirror/{commit}',
      DSTACK_AGENT_EXEC_STREAM: '1',
      DSTACK_VSCODE_SERVER_SHA256_URL: 'https://mirror/sha',
      DSTACK_VSCODE_EXTENSION_URL: 'https://mirror/{publisher}/{name}.vsix',
      NODE_EXTRA_CA_CERTS: '/etc/mirror-ca.pem',
    });
  });
});
