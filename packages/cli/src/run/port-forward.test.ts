import { describe, expect, it } from 'vitest';
import { portMappings, sshForwardArgs } from './port-forward';

describe('portMappings', () => {
  it("reads the run's typed mappings; local 0 (`*:PORT`) takes the container's port", () => {
    expect(
      portMappings([
        { localPort: 8080, containerPort: 8080 },
        { localPort: 0, containerPort: 6006 },
        { localPort: 9000, containerPort: 80 },
      ]),
    ).toEqual([
      { local: 8080, remote: 8080 },
      { local: 6006, remote: 6006 },
      { local: 9000, remote: 80 },
    ]);
    expect(portMappings([])).toEqual([]);
  });
});

describe('sshForwardArgs', () => {
  it('forwards each port to the run through its SSH config, failing when a port is taken', () => {
    expect(
      sshForwardArgs(
        'vscode',
        [
          { local: 8080, remote: 80 },
          { local: 6006, remote: 6006 },
        ],
        '/h/ssh/config',
      ),
    ).toEqual([
      '-F',
      '/h/ssh/config',
      '-N',
      '-o',
      'ExitOnForwardFailure=yes',
      '-o',
      'BatchMode=yes',
      '-o',
      'ServerAliveInterval=15',
      '-L',
      '8080:localhost:80',
      '-L',
      '6006:localhost:6006',
      'vscode',
    ]);
  });
});
