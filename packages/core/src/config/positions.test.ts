// Every error names FILE:LINE:COL, on the line of the offending node, and all of them come at once.
import { describe, expect, it } from 'vitest';
import { formatError, parseConfiguration } from './parse';
import { parseErrors } from './test-helpers';

/** The 1-based lines marked `# ERR` in a text. */
function markedLines(text: string): number[] {
  return text.split('\n').flatMap((line, i) => (line.includes('# ERR') ? [i + 1] : []));
}

const BROKEN_DEV = `type: dev-environment
name: Bad_Name            # ERR
pyhton: "3.11"            # ERR
ide: vscod                # ERR
init:
  - echo ok
  - 42                    # ERR
env:
  - GOOD=1
  - GOOD=2                # ERR
  - 9LIVES                # ERR
resources:
  cpu: x86:arm            # ERR
  memory: 8 GiB           # ERR
  gpu:
    name: A100
    count: 4..2           # ERR
    colour: red           # ERR
  disk: 100GB
ports:
  - 8080
  - 99999                 # ERR
retry:
  on_events: [no-capacity, lightning]   # ERR
  duration: 1h
max_price: -3             # ERR
inactivity_duration: 2 hours   # ERR
spot_policy: spot
entrypoint: bash          # ERR
`;

const BROKEN_FLEET = `type: fleet
name: ok-name
ssh_config:
  user: ubuntu
  hosts:
    - 10.0.0.1
    - hostname: 10.0.0.2
      port: 0             # ERR
      internal_ip: 1.1.1.1   # ERR
    - 10.0.0.1            # ERR
  proxy_jump:             # ERR
    hostname: bastion
placement: everywhere     # ERR
`;

describe('error positions', () => {
  it.each([
    ['a dev environment', BROKEN_DEV],
    ['a fleet', BROKEN_FLEET],
  ])('in %s: one error per marked line, all reported at once, each on its line', (_, text) => {
    const errors = parseErrors(text);
    expect([...new Set(errors.map((e) => e.line))].sort((a, b) => a - b)).toEqual(markedLines(text));
    for (const e of errors) {
      expect(e.file).toBe('test.dstack.yml');
      expect(e.column).toBeGreaterThanOrEqual(1);
      expect(formatError(e)).toBe(`test.dstack.yml:${e.line}:${e.column}: ${e.message}`);
      expect(formatError(e)).toMatch(/^test\.dstack\.yml:\d+:\d+: \S/);
      expect(formatError(e)).not.toMatch(/\n/);
    }
  });

  it('points at the value, the key for an unknown key, and the token inside a list', () => {
    const errors = parseErrors(BROKEN_DEV);
    const at = (re: RegExp) => errors.find((e) => re.test(e.message))!;
    expect(at(/name: invalid value "[^"]*": use 2 to 41/)).toMatchObject({ line: 2, column: 7 });
    expect(at(/unknown key `pyhton`/)).toMatchObject({ line: 3, column: 1 });
    expect(at(/unknown key `colour`/)).toMatchObject({ line: 18, column: 5 });
    expect(at(/count: invalid GPU count range order|range order 4\.\.2/)).toMatchObject({ line: 17, column: 12 });
    expect(at(/duplicate environment variable/)).toMatchObject({ line: 10, column: 5 });
    expect(at(/invalid retry event "lightning"/)).toMatchObject({ line: 24, column: 28 });
  });

  it('points at the enclosing key for a missing key', () => {
    const errors = parseErrors('type: dev-environment\nimage: x\nregistry_auth:\n  username: me\n');
    expect(errors).toEqual([{ file: 'test.dstack.yml', line: 3, column: 1, message: 'missing required key `password` in registry_auth' }]);
  });

  it.each([
    ['an unclosed quote', 'type: dev-environment\nname: "vscode\nide: vscode\n', 2],
    ['a bad indentation', 'type: dev-environment\nresources:\n  gpu: 24GB\n    cpu: 2\n', 3],
    ['a duplicate key', 'type: dev-environment\nname: a\nide: vscode\nname: b\n', 4],
    ['an unclosed flow list', 'type: dev-environment\ninit: [a, b\nide: vscode\n', 3],
    ['a tab indentation', 'type: dev-environment\nresources:\n\tgpu: 1\n', 3],
  ])('YAML syntax: %s', (_, text, line) => {
    const errors = parseErrors(text);
    expect(errors[0].message).toMatch(/^YAML syntax error: /);
    if (text.includes('"vscode')) expect(errors[0].column).toBe(7);
    expect(errors[0].line).toBe(line);
    for (const e of errors) expect(formatError(e)).toMatch(/^test\.dstack\.yml:\d+:\d+: YAML syntax error: [^\n]+$/);
  });

  it.each([
    ['an empty file', '', 1, /the file is empty/],
    ['only comments', '# nothing\n', 1, /the file is empty/],
    ['a list', '- type: dev-environment\n', 1, /expected a mapping of keys/],
    ['a scalar', 'hello\n', 1, /got a single value/],
    ['no type', 'name: vscode\nide: vscode\n', 1, /missing `type`: set `type: dev-environment` or `type: fleet`/],
    ['a task', 'name: x\ntype: task\n', 2, /`type: task` is a dstack type that dstack-ts does not run/],
    ['a misspelled type', 'type: dev-enviroment\n', 1, /unknown type "dev-enviroment".*did you mean `dev-environment`/],
    ['a numeric type', 'type: 3\n', 1, /`type` must be dev-environment or fleet/],
  ])('the whole file: %s', (_, text, line, message) => {
    const errors = parseErrors(text);
    expect(errors).toHaveLength(1);
    expect(errors[0].line).toBe(line);
    expect(errors[0].message).toMatch(message);
  });

  it('reads YAML as PyYAML does: `on`/`off`/`yes`/`no` are booleans, `y` is a string', () => {
    const r = parseConfiguration('f.yml', 'type: dev-environment\nprivileged: on\nnvcc: no\ninactivity_duration: off\nenv:\n  FLAG: y\n');
    expect(
      r.ok && r.config.type === 'dev-environment' && [r.config.privileged, r.config.nvcc, r.config.inactivity_duration, r.config.env.FLAG],
    ).toEqual([true, false, null, 'y']);
  });

  it('reads a port written as `8000:50` as a mapping, not as YAML 1.1 base-60', () => {
    const r = parseConfiguration('f.yml', 'type: dev-environment\nports:\n  - 8000:50\n');
    expect(r.ok && r.config.type === 'dev-environment' && r.config.ports).toEqual([{ local_port: 8000, container_port: 50 }]);
  });

  it('follows aliases', () => {
    const r = parseConfiguration('f.yml', 'type: dev-environment\ninit: &cmds\n  - echo 1\nenv:\n  X: *cmds\n');
    expect(!r.ok && r.errors[0]).toMatchObject({ line: 5, message: expect.stringMatching(/`X` must be a string/) });
  });
});
