// The quoting module against the real readers where this machine has them: sh for shell words,
// OpenSSH's own parser (`ssh -G -F FILE HOST` prints what it read) for ssh_config, and
// `systemd-analyze verify` (which names the executable it parsed) for ExecStart.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { QuotingError, shellWord, sshConfigValue, systemdEnvFile, systemdEnvironment, systemdExecLine, systemdValue } from './quoting';

const tmp = mkdtempSync(join(tmpdir(), 'dstack-quoting-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('shellWord', () => {
  it.each([
    ['plain-word_1.0', 'plain-word_1.0'],
    ['', "''"],
    ['a b', "'a b'"],
    ["it's", "'it'\\''s'"],
    ['$HOME `x` "q" \\ ; & | * ~', `'$HOME \`x\` "q" \\ ; & | * ~'`],
  ])('%j → %s', (word, quoted) => {
    expect(shellWord(word)).toBe(quoted);
  });

  it('comes back from sh as it was, whatever it holds', () => {
    for (const word of ['', 'a b', "it's", '$(id) `id` ${x}', 'line\nbreak\ttab', '-n', '*', 'ü €', "'''", '\\\\']) {
      expect(execFileSync('sh', ['-c', `printf '%s' ${shellWord(word)}`], { encoding: 'utf8' })).toBe(word);
    }
  });

  it('refuses a NUL byte, which no command line can carry', () => {
    expect(() => shellWord('a\0b')).toThrow(QuotingError);
  });
});

/** What OpenSSH read for `host` from a config file: `ssh -G` as key → value (first occurrence). */
function sshG(config: string, host: string): Map<string, string> {
  const file = join(tmp, `ssh_config-${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, config);
  const out = execFileSync('ssh', ['-G', '-F', file, host], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const map = new Map<string, string>();
  for (const line of out.split('\n')) {
    const i = line.indexOf(' ');
    if (i > 0 && !map.has(line.slice(0, i))) map.set(line.slice(0, i), line.slice(i + 1));
  }
  return map;
}

describe('sshConfigValue', () => {
  it.each<[string, string, string]>([
    ['User', 'ubuntu', 'ubuntu'],
    ['IdentityFile', '/keys/my key #2', '"/keys/my key #2"'],
    ['IdentityFile', '/k/50%', '/k/50%%'],
    ['HostKeyAlias', 'al%ias', 'al%ias'],
    ['UserKnownHostsFile', 'a"b\\c', '"a\\"b\\\\c"'],
    ['HostName', '', '""'],
    ['Port', '22', '22'],
  ])('%s %j → %s', (keyword, value, written) => {
    expect(sshConfigValue(keyword, value)).toBe(written);
  });

  it('gives OpenSSH back a tricky but legal value as written (spaces, `#`, `%`, quotes) and adds no directive', () => {
    const tricky = {
      hostname: 'my host #1 100%',
      userknownhostsfile: '/tmp/known hosts #2/50% "q" \'sq\' =x',
      hostkeyalias: 'alias #3 %h',
      user: 'first#last',
    };
    const plain = { hostname: 'h', userknownhostsfile: '/tmp/k', hostkeyalias: 'a', user: 'u' };
    const block = (v: Record<string, string>) =>
      `Host target\n${Object.entries(v)
        .map(([k, x]) => `  ${k} ${sshConfigValue(k, x)}`)
        .join('\n')}\n  IdentityFile ${sshConfigValue('IdentityFile', '/keys/my key #4 "x"')}\n`;
    const read = sshG(block(tricky), 'target');
    for (const [k, v] of Object.entries(tricky)) expect(read.get(k)).toBe(v);
    // -G prints IdentityFile before its %-expansion; spaces, `#` and quotes come back as written.
    expect(read.get('identityfile')).toBe('/keys/my key #4 "x"');
    // The same options as a block of plain values: nothing was added (no ProxyCommand, no second Host).
    expect([...read.keys()].sort()).toEqual([...sshG(block(plain), 'target').keys()].sort());
  });

  it('refuses what ssh_config cannot carry: a line break would start a new directive', () => {
    const attack = 'h\nProxyCommand sh -c "touch /tmp/pwned"';
    expect(() => sshConfigValue('HostName', attack)).toThrow(/HostName: "h\\nProxyCommand .*" has a control character \(U\+000A\)/);
    // Why: written through, the value's second line is a directive of its own to OpenSSH.
    expect(sshG(`Host target\n  HostName ${attack}\n`, 'target').get('proxycommand')).toBe('sh -c "touch /tmp/pwned"');
    for (const [kw, v] of [
      ['IdentityFile', '${HOME}/k'],
      ['User', 'a%u'],
      ['User', 'a${X}'],
      ['Include', '/a/*'],
      ['User', 'a\u007f'],
    ]) {
      expect(() => sshConfigValue(kw, v)).toThrow(QuotingError);
    }
  });
});

describe('systemd', () => {
  it('ExecStart: the executable as is (specifiers escaped), arguments quoted, `$` and `%` escaped, a lone `;` escaped', () => {
    expect(systemdExecLine(['/opt/bin/agent', 'serve', '--dir', '/home/a b/50% $HOME', ';'])).toBe(
      '/opt/bin/agent serve --dir "/home/a b/50%% $$HOME" \\;',
    );
    expect(systemdExecLine(['/opt/my dir/agent', 'x"y\\z'])).toBe('"/opt/my dir/agent" "x\\"y\\\\z"');
  });

  it('ExecStart: systemd itself reads the executable back as written', () => {
    const exe = '/nonexistent/my dir/100%/agent';
    const unit = join(tmp, 'probe.service');
    writeFileSync(unit, `[Service]\nExecStart=${systemdExecLine([exe, 'serve'])}\n`);
    const res = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
    if (res.error) throw new Error(`systemd-analyze is needed for this test (apt-get install systemd): ${res.error.message}`);
    expect(res.stderr).toContain(`Command ${exe} is not executable`);
  });

  it('refuses what a unit cannot carry', () => {
    expect(() => systemdExecLine(['/bin/x', 'a\nExecStartPre=/bin/evil'])).toThrow(/control character \(U\+000A\)/);
    expect(() => systemdExecLine(['/bin/"x'])).toThrow(QuotingError);
    expect(() => systemdExecLine(['relative'])).toThrow(QuotingError);
    expect(() => systemdEnvironment('A', 'x\ny')).toThrow(QuotingError);
    expect(() => systemdValue('User', ' a')).toThrow(QuotingError);
    expect(() => systemdValue('User', 'a\\')).toThrow(QuotingError);
    expect(() => systemdValue('User', 'a\n')).toThrow(QuotingError);
  });

  it('Environment= and plain settings', () => {
    expect(systemdEnvironment('PATH', '/usr/bin:/bin')).toBe('PATH=/usr/bin:/bin');
    expect(systemdEnvironment('X', 'a "b" 10%')).toBe('"X=a \\"b\\" 10%%"');
    expect(systemdValue('User', 'ubuntu%1')).toBe('ubuntu%%1');
  });

  it('EnvironmentFile: raw line breaks inside the quotes, shell escapes for " \\ ` $', () => {
    expect(systemdEnvFile({ A: 'plain', B: 'a"b\\c`d$e', C: 'line1\nline2', D: '50%' })).toBe(
      'A="plain"\nB="a\\"b\\\\c\\`d\\$e"\nC="line1\nline2"\nD="50%"\n',
    );
    expect(() => systemdEnvFile({ 'BAD-NAME': 'x' })).toThrow(QuotingError);
  });
});
