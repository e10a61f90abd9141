import { describe, expect, it } from 'vitest';
import { portMappings, sshForwardArgs } from './port-forward';

describe('portMappings', () => {
  it('reads the normalized mappings, numbers and LOCAL:REMOTE strings', () => {
    expect(
      portMappings([{ local_port: 8080, container_port: 8080 }, { local_port: null, container_port: 6006 }, 3000, '9000:80', 'junk', null]),
    ).toEqual([
      { local: 8080, remote: 8080 },
      { local: 6006, remote: 6006 },
      { local: 3000, remote: 3000 },
      { local: 9000, remote: 80 },
    ]);
    expect(portMappings(undefined)).toEqual([]);
  });
});

describe('sshForwardArgs', () => {
  it('forwards each port to the run through its SSH config, failing when a port is taken', () => {
    expect(sshForwardArgs('vscode', [{ local: 8080, remote: 80 }, { local: 6006, remote: 6006 }], '/h/ssh/config')).toEqual([
      '-F', '/h/ssh/config',
      '-N', '-o', 'ExitOnForwardFailure=yes', '-o', 'BatchMode=yes', '-o', 'ServerAliveInterval=15',
      '-L', '8080:localhost:80', '-L', '6006:localhost:6006',
      'vscode',
    ]);
  });
});
