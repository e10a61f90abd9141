import { describe, expect, it } from 'vitest';
import { localEnd, mergePorts, parseBindHost, parsePortFlag, portMappings, sshForwardArgs } from './port-forward';

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

describe("attach's -p, --host and --ssh-identity", () => {
  it('reads -p [LOCAL:]REMOTE with the ports grammar (`*:REMOTE`: the same port here)', () => {
    expect(parsePortFlag('8080')).toEqual({ local: 8080, remote: 8080 });
    expect(parsePortFlag('9000:80')).toEqual({ local: 9000, remote: 80 });
    expect(parsePortFlag('*:6006')).toEqual({ local: 6006, remote: 6006 });
    expect(() => parsePortFlag('80:x')).toThrow(/invalid port "80:x"/);
    expect(() => parsePortFlag('70000')).toThrow(/ports are 1 to 65535/);
  });

  it("merges -p into the run's ports as dstack does: the same remote port gets the new local one, others are added", () => {
    const run = [
      { local: 8080, remote: 8080 },
      { local: 6006, remote: 6006 },
    ];
    expect(
      mergePorts(run, [
        { local: 9090, remote: 8080 },
        { local: 3000, remote: 3000 },
      ]),
    ).toEqual([
      { local: 9090, remote: 8080 },
      { local: 6006, remote: 6006 },
      { local: 3000, remote: 3000 },
    ]);
    expect(() => mergePorts(run, [{ local: 8080, remote: 80 }])).toThrow('local port 8080 would forward both 8080 and 80');
  });

  it('binds the forwards to --host and tries --ssh-identity first', () => {
    expect(parseBindHost('0.0.0.0')).toBe('0.0.0.0');
    expect(parseBindHost('[::1]')).toBe('::1');
    expect(() => parseBindHost('a b')).toThrow(/expected a host name or an address/);
    expect(() => parseBindHost('')).toThrow();
    const args = sshForwardArgs('dev', [{ local: 8080, remote: 80 }], undefined, { bindHost: '::1', identityFile: '/k/id' });
    expect(args.slice(args.indexOf('-i'))).toEqual(['-i', '/k/id', '-L', '[::1]:8080:localhost:80', 'dev']);
    expect(sshForwardArgs('dev', [{ local: 1, remote: 2 }], undefined, { bindHost: '127.0.0.2' })).toContain('127.0.0.2:1:localhost:2');
    expect(localEnd(8080)).toBe('localhost:8080');
    expect(localEnd(8080, '::1')).toBe('[::1]:8080');
  });
});
