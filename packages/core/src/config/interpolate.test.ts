import { describe, expect, it } from 'vitest';
import { interpolate, isReferableSecretName, secretNameProblem } from './interpolate';
import { parseConfiguration } from './parse';
import { parseErrors, parseOk } from './test-helpers';
import type { DevEnvironmentConfiguration } from './types';

const SECRETS: Record<string, string> = { HF_TOKEN: 'hf_abc', PW: 'p$w', USER: 'robot' };
const secrets = (name: string) => SECRETS[name];
const both = ['env', 'secrets'] as const;

describe('interpolate', () => {
  // dstack's VariablesInterpolator (src/dstack/_internal/utils/interpolator.py): `$$` is `$`, one
  // namespace and one name per reference, spaces inside the braces allowed.
  it.each<[string, string]>([
    ['${{ secrets.HF_TOKEN }}', 'hf_abc'],
    ['${{secrets.HF_TOKEN}}', 'hf_abc'],
    ['Bearer ${{ secrets.HF_TOKEN }}!', 'Bearer hf_abc!'],
    ['${{ secrets.PW }}${{ secrets.USER }}', 'p$wrobot'],
    ['$$${{ secrets.USER }}', '$robot'],
    ['$${{ secrets.USER }}', '${{ secrets.USER }}'],
    ['a$b $ c$', 'a$b $ c$'],
    ['plain', 'plain'],
    ['', ''],
  ])('%j → %j', (text, value) => {
    expect(interpolate(text, { namespaces: ['secrets'], resolve: { secrets } }).value).toBe(value);
  });

  it('lists the references, and keeps the text as written when not resolving', () => {
    const r = interpolate('${{ env.A }}-$$-${{ secrets.B }}', { namespaces: both });
    expect(r).toEqual({
      value: '${{ env.A }}-$$-${{ secrets.B }}',
      refs: [
        { namespace: 'env', name: 'A' },
        { namespace: 'secrets', name: 'B' },
      ],
    });
  });

  it('resolves each namespace with its own lookup', () => {
    const r = interpolate('${{ env.A }}:${{ secrets.USER }}', { namespaces: both, resolve: { env: () => 'x', secrets } });
    expect(r.value).toBe('x:robot');
  });

  it.each<[string, RegExp]>([
    ['${{ env.HOME }}', /invalid reference \$\{\{ env.HOME \}\}: only \$\{\{ secrets.NAME \}\} is supported here/],
    ['${{ secrets }}', /invalid reference \$\{\{ secrets \}\}/],
    ['${{ secrets.a.b }}', /invalid reference/],
    ['${{ secrets.my-token }}', /invalid reference \$\{\{ secrets.my-token \}\}/],
    ['${{ secrets.1X }}', /invalid reference/],
    ['${{ secrets.X', /unclosed reference "\$\{\{ secrets.X": write \$\{\{ secrets.NAME \}\}/],
  ])('refuses %j', (text, message) => {
    expect(() => interpolate(text, { namespaces: ['secrets'] })).toThrow(message);
  });

  it('names every unknown secret once, and never a value', () => {
    const go = () =>
      interpolate('${{ secrets.NOPE }} ${{ secrets.HF_TOKEN }} ${{ secrets.NOPE }} ${{ secrets.GONE }}', {
        namespaces: ['secrets'],
        resolve: { secrets },
      });
    expect(go).toThrow('no secret named `NOPE`, `GONE`: set it with `dstack secret set NOPE` (see `dstack secret list`)');
    expect(go).not.toThrow(/hf_abc/);
  });

  it('a namespace without a lookup has no names', () => {
    expect(() => interpolate('${{ secrets.PW }}', { namespaces: both, resolve: { env: () => 'x' } })).toThrow(/no secret named `PW`/);
  });
});

describe('secret names', () => {
  // dstack's _SECRET_NAME_REGEX (src/dstack/_internal/server/services/secrets.py): ^[A-Za-z0-9-_]{1,200}$
  it.each(['HF_TOKEN', 'hf_token', 'my-secret', '1password', 'a', 'x'.repeat(200)])('takes %j', (name) => {
    expect(secretNameProblem(name)).toBeUndefined();
  });
  it.each(['', 'a b', 'a.b', 'a/b', 'ü', 'x'.repeat(201), 'A=B'])('refuses %j', (name) => {
    expect(secretNameProblem(name)).toMatch(/invalid secret name .*: use 1 to 200 letters, digits, _ or -/);
  });
  it('only names a reference can hold are referable (no -, not starting with a digit), as in dstack', () => {
    expect(['HF_TOKEN', '_x', 'a1'].map(isReferableSecretName)).toEqual([true, true, true]);
    expect(['my-secret', '1password'].map(isReferableSecretName)).toEqual([false, false]);
  });
});

const dev = (body: string) => `type: dev-environment\nimage: x\n${body}`;
/** As the daemon parses: the CLI's environment given (resolving), with the daemon's secrets. */
const resolved = (body: string, env: Record<string, string> = {}) => {
  const r = parseConfiguration('test.dstack.yml', dev(body), env, secrets);
  if (!r.ok) throw new Error(r.errors.map((e) => `${e.line}:${e.column}: ${e.message}`).join('\n'));
  return { config: r.config as DevEnvironmentConfiguration, fromSecrets: r.fromSecrets };
};
const errorsOf = (body: string) => {
  const r = parseConfiguration('test.dstack.yml', dev(body), {}, secrets);
  if (r.ok) throw new Error('expected errors');
  return r.errors.map((e) => `${e.line}:${e.column}: ${e.message}`);
};

describe('${{ secrets.NAME }} in a dev environment', () => {
  it('fills env values (list and mapping forms) and says which took a secret', () => {
    const list = resolved(
      'env:\n  - HF_TOKEN=${{ secrets.HF_TOKEN }}\n  - URL=https://u:${{ secrets.PW }}@h\n  - PLAIN=a$$b\n  - FROM_CLI\n',
    );
    expect(list.config.env).toEqual({ HF_TOKEN: 'hf_abc', URL: 'https://u:p$w@h', PLAIN: 'a$b', FROM_CLI: null });
    expect(list.fromSecrets).toEqual(['env.HF_TOKEN', 'env.URL']);
    const mapping = resolved('env:\n  HF_TOKEN: ${{ secrets.HF_TOKEN }}\n  N: 1.10\n');
    expect(mapping.config.env).toEqual({ HF_TOKEN: 'hf_abc', N: '1.10' });
    expect(mapping.fromSecrets).toEqual(['env.HF_TOKEN']);
  });

  it('fills registry_auth, also through an env value that holds a secret', () => {
    const r = resolved(
      'env:\n  - DOCKER_PW=${{ secrets.PW }}\nregistry_auth:\n  username: ${{ secrets.USER }}\n  password: ${{ env.DOCKER_PW }}\n',
    );
    expect(r.config.registry_auth).toEqual({ username: 'robot', password: 'p$w' });
    expect(r.fromSecrets).toEqual(['env.DOCKER_PW', 'registry_auth.username', 'registry_auth.password']);
    const plain = resolved('registry_auth:\n  username: me\n  password: ${{ env.PW }}\n', { PW: 'from-shell' });
    expect(plain.config.registry_auth).toEqual({ username: 'me', password: 'from-shell' });
    expect(plain.fromSecrets).toEqual([]);
  });

  it('an unknown secret is an error at its place, naming it', () => {
    expect(errorsOf('env:\n  - A=1\n  - HF_TOKEN=${{ secrets.NOPE }}\n')).toEqual([
      '5:5: env HF_TOKEN: no secret named `NOPE`: set it with `dstack secret set NOPE` (see `dstack secret list`)',
    ]);
    expect(errorsOf('env:\n  HF_TOKEN: ${{ secrets.NOPE }}\n')).toEqual([
      expect.stringMatching(/^4:13: env HF_TOKEN: no secret named `NOPE`/),
    ]);
    expect(errorsOf('registry_auth:\n  username: u\n  password: ${{ secrets.NOPE }}\n')).toEqual([
      expect.stringMatching(/^5:13: registry_auth.password: no secret named `NOPE`/),
    ]);
  });

  it('env values take secrets only, as dstack fills them', () => {
    expect(errorsOf('env:\n  - A=${{ env.HOME }}\n')).toEqual([
      '4:5: env A: invalid reference ${{ env.HOME }}: only ${{ secrets.NAME }} is supported here',
    ]);
  });

  it('without resolving (dstack validate), references are checked and kept as written', () => {
    const c = parseOk(
      dev('env:\n  - HF_TOKEN=${{ secrets.HF_TOKEN }}\n  - P=a$$b\nregistry_auth:\n  username: ${{ secrets.U }}\n  password: p\n'),
    );
    expect((c as DevEnvironmentConfiguration).env).toEqual({ HF_TOKEN: '${{ secrets.HF_TOKEN }}', P: 'a$$b' });
    expect((c as DevEnvironmentConfiguration).registry_auth?.username).toBe('${{ secrets.U }}');
    expect(parseErrors(dev('env:\n  - A=${{ secrets.X\n'))[0].message).toMatch(/env A: unclosed reference/);
  });

  it('resolving with no secrets given: every secret is unknown', () => {
    const r = parseConfiguration('test.dstack.yml', dev('env:\n  - A=${{ secrets.HF_TOKEN }}\n'), {});
    expect(r.ok).toBe(false);
  });
});
