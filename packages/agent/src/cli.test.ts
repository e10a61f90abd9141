import { describe, expect, it } from 'vitest';
import { UsageError, parseArgs } from './cli';

describe('agent command line', () => {
  it('parses serve with every option, in both --opt VALUE and --opt=VALUE forms', () => {
    expect(parseArgs(['serve', '--data-dir', '/d', '--socket=/s.sock', '--log-file', '/l', '--log-cap', '65536'])).toEqual({
      kind: 'serve',
      dataDir: '/d',
      socket: '/s.sock',
      logFile: '/l',
      logCap: 65536,
    });
    expect(parseArgs(['serve', '--data-dir', '/d', '--log-file-max', '1048576'])).toMatchObject({
      logRotation: { maxBytes: 1048576, keep: 3 },
    });
    expect(parseArgs(['serve', '--data-dir', '/d', '--log-file-keep=0'])).toMatchObject({
      logRotation: { maxBytes: 10 * 1024 * 1024, keep: 0 },
    });
  });

  it('parses version, help, hostinfo and call', () => {
    expect(parseArgs(['--version', '--json'])).toEqual({ kind: 'version', json: true });
    expect(parseArgs([])).toEqual({ kind: 'help' });
    expect(parseArgs(['serve', '--help'])).toEqual({ kind: 'help' });
    expect(parseArgs(['hostinfo'])).toEqual({ kind: 'hostinfo', dataDir: '/' });
    expect(parseArgs(['call', '--data-dir', '/d/', 'GetJob', '{"jobId":"x"}'])).toEqual({
      kind: 'call',
      socket: '/d/agent.sock',
      method: 'GetJob',
      body: '{"jobId":"x"}',
    });
  });

  it('names the bad flag or the missing part', () => {
    const cases: [string[], string][] = [
      [['serve'], 'serve needs --data-dir DIR'],
      [['serve', '--data-dir'], 'option --data-dir needs a value'],
      [['serve', '--data-dir', '/d', '--port', '1'], 'unknown option --port for serve'],
      [['serve', '--data-dir', '/d', '--log-cap', '10'], '--log-cap 10: a whole number of bytes, at least 16384'],
      [['serve', '--data-dir', '/d', '--log-file-max', '1k'], '--log-file-max 1k: a whole number of bytes, at least 16384'],
      [['serve', '--data-dir', '/d', '--log-file-keep', '-1'], '--log-file-keep -1: a whole number of files, 0 or more'],
      [['serve', '--data-dir', '/d', 'extra'], 'serve takes no argument (got extra)'],
      [['--version', '--yaml'], 'unknown option --yaml for --version (only --json)'],
      [['start'], 'unknown command start: use serve, hostinfo, call, --version or --help'],
      [['call', 'GetJob'], 'call needs --socket PATH or --data-dir DIR'],
    ];
    for (const [argv, message] of cases) expect(() => parseArgs(argv), argv.join(' ')).toThrow(new UsageError(message));
  });
});
