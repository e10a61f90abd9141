// Values that end up in ssh_config or a systemd unit (the generated `Host` blocks, the fleet agent's
// unit) must come back as written or be refused where they are written: each such field, given a line
// break, a backslash and a double quote, is an error at its file:line:col that quotes the value.
import { describe, expect, it } from 'vitest';
import { formatError, parseConfiguration } from './parse';
import { parseNormalizedConfiguration } from './normalized';
import { dev, fleet, parseErrors } from './test-helpers';

const ED = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEZNw+gudN60IQ1Y13LweQJAYoQi26r+L77/AFePw8wE';
const BAD = ['a\nProxyCommand sh -c id', 'a\\b', 'a"b'];
const MARK = '@@';

// Each case: the file with MARK where the value goes, and the field's path in messages.
const FIELDS: [string, string][] = [
  ['ssh_config.user', `type: fleet\nssh_config:\n  user: ${MARK}\n  hosts: [h]\n`],
  ['ssh_config.identity_file', `type: fleet\nssh_config:\n  user: u\n  identity_file: ${MARK}\n  hosts: [h]\n`],
  ['ssh_config.hosts[0]', `type: fleet\nssh_config:\n  user: u\n  hosts:\n    - ${MARK}\n`],
  ['ssh_config.hosts[0].hostname', `type: fleet\nssh_config:\n  user: u\n  hosts:\n    - hostname: ${MARK}\n`],
  ['ssh_config.hosts[0].user', `type: fleet\nssh_config:\n  hosts:\n    - hostname: h\n      user: ${MARK}\n`],
  ['ssh_config.hosts[0].identity_file', `type: fleet\nssh_config:\n  user: u\n  hosts:\n    - hostname: h\n      identity_file: ${MARK}\n`],
  ['ssh_config.hosts[0].host_key', `type: fleet\nssh_config:\n  user: u\n  hosts:\n    - hostname: h\n      host_key: ${MARK}\n`],
  ...(['hostname', 'user', 'identity_file', 'host_key'] as const).flatMap((f): [string, string][] => {
    const jump = { hostname: 'j', user: 'u', identity_file: 'k', host_key: ED, [f]: MARK };
    const lines = (indent: string) =>
      Object.entries(jump)
        .map(([k, v]) => `${indent}${k}: ${v}`)
        .join('\n');
    return [
      [`ssh_config.proxy_jump.${f}`, `type: fleet\nssh_config:\n  user: u\n  proxy_jump:\n${lines('    ')}\n  hosts: [h]\n`],
      [
        `ssh_config.hosts[0].proxy_jump.${f}`,
        `type: fleet\nssh_config:\n  user: u\n  hosts:\n    - hostname: h\n      proxy_jump:\n${lines('        ')}\n`,
      ],
    ];
  }),
  ['user', `type: dev-environment\nuser: ${MARK}\n`],
];

describe('ssh_config and systemd fields refuse what those files cannot carry', () => {
  it.each(FIELDS.flatMap(([field, template]) => BAD.map((value) => [field, JSON.stringify(value), template, value] as const)))(
    '%s = %s: refused at its file:line:col, quoting the value',
    (field, _shown, template, value) => {
      const text = template.replace(MARK, JSON.stringify(value));
      const r = parseConfiguration('fleet.yml', text);
      expect(r.ok).toBe(false);
      if (r.ok) return;
      const at = text.indexOf(JSON.stringify(value));
      const line = text.slice(0, at).split('\n').length;
      const column = at - text.lastIndexOf('\n', at - 1);
      const lines = r.errors.map(formatError);
      expect(lines).toContainEqual(
        expect.stringMatching(new RegExp(`^fleet\\.yml:${line}:${column}: ${field.replace(/[.[\]]/g, '\\$&')}: `)),
      );
      const ours = lines.find((l) => l.startsWith(`fleet.yml:${line}:${column}: ${field}: `))!;
      expect(ours).toContain(JSON.stringify(value));
    },
  );

  it('says what is wrong with each', () => {
    const messages = (v: string) =>
      parseErrors(`type: fleet\nssh_config:\n  user: ${JSON.stringify(v)}\n  hosts: [h]\n`).map((e) => e.message);
    expect(messages('a\nb')).toEqual(['ssh_config.user: "a\\nb" has a control character (U+000A)']);
    expect(messages('a\\b')).toEqual(['ssh_config.user: "a\\\\b" has a `\\`, which cannot go into ssh_config or a systemd unit']);
    expect(messages('a"b')).toEqual(['ssh_config.user: "a\\"b" has a `"`, which cannot go into ssh_config or a systemd unit']);
    expect(messages('a b')).toEqual(['ssh_config.user: "a b" has whitespace, which a user name cannot have']);
    expect(messages('a%u')).toEqual(['ssh_config.user: "a%u" has a `%` or `${`, which OpenSSH may expand in a user name']);
  });

  it('keeps what is legal there: spaces, `#` and `%` in a key path', () => {
    const c = fleet('ssh_config:\n  user: u\n  identity_file: "/keys/my key #2 100%"\n  hosts: [h]\n');
    expect(c.ssh_config!.identity_file).toBe('/keys/my key #2 100%');
    expect(parseErrors('type: fleet\nssh_config:\n  user: u\n  identity_file: "${HOME}/k"\n  hosts: [h]\n')[0].message).toMatch(
      /has `\$\{`, which OpenSSH expands/,
    );
  });
});

describe('control characters in any value', () => {
  it('are refused, but for tabs and line breaks in env values and init commands', () => {
    const ok = dev(
      'init:\n  - |\n    echo one\n    echo\ttwo\nenv:\n  CERT: "-----BEGIN-----\\nabc\\n"\n  - X\n'.replace('\n  - X\n', '\n'),
    );
    expect(ok.init).toEqual(['echo one\necho\ttwo\n']);
    expect(ok.env.CERT).toBe('-----BEGIN-----\nabc\n');
    const errors = parseErrors(
      'type: dev-environment\nimage: "ubuntu\\n"\nworking_dir: "/w\\u001b[1m"\ninit: ["echo \\u0007"]\nenv: ["A=\\u007f"]\n',
    );
    expect(errors.map(formatError)).toEqual([
      'test.dstack.yml:2:8: image: "ubuntu\\n" has a control character (U+000A)',
      'test.dstack.yml:3:14: working_dir: "/w\\u001b[1m" has a control character (U+001B)',
      'test.dstack.yml:4:8: init[0]: "echo \\u0007" has a control character (U+0007) other than a tab or line break',
      'test.dstack.yml:5:7: env[0]: "A=\\u007f" has a control character (U+007F) other than a tab or line break',
    ]);
  });
});

describe('the daemon re-checks the same rules on the JSON it is sent', () => {
  it('refuses a newline in a fleet host, a quote in a user, a malformed host_key', () => {
    const good = fleet(`ssh_config:\n  user: u\n  hosts:\n    - hostname: h\n      host_key: ${ED}\n`);
    expect(parseNormalizedConfiguration(good).ok).toBe(true);
    const host = good.ssh_config!.hosts[0];
    const bad = (patch: object) =>
      parseNormalizedConfiguration({ ...good, ssh_config: { ...good.ssh_config, hosts: [{ ...host, ...patch }] } });
    expect(bad({ hostname: 'h\nProxyCommand x' })).toMatchObject({
      ok: false,
      message: expect.stringContaining('ssh_config.hosts[0].hostname: "h\\nProxyCommand x" has a control character'),
    });
    expect(bad({ user: 'a"b' })).toMatchObject({ ok: false, message: expect.stringContaining('has a `"`') });
    expect(bad({ host_key: 'ssh-ed25519 AAAA' })).toMatchObject({ ok: false, message: expect.stringContaining('host_key') });
    expect(bad({ host_key: `${ED} comment` })).toMatchObject({ ok: false, message: expect.stringContaining('expected "TYPE BASE64"') });
  });
});
