import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ConfigurationSource } from '@dstack/core/gen/daemon';
import { BadRequestError, NotFoundError } from '@dstack/core/grpc';
import { readSource } from './config-source';
import { collectSecrets, maskConfiguration, revealConfiguration } from './runs/configuration';
import { buildJobSpec } from './runs/job-spec';
import { redactRunSecrets } from './runs/redaction';
import { SecretBox } from './secrets';
import { SecretService } from './secrets-service';
import { openDb } from './state/db';
import { SecretsStore } from './state/secrets-store';

const dir = mkdtempSync(join(tmpdir(), 'dstack-user-secrets-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function fresh() {
  const home = join(dir, String(n++));
  const db = openDb(`${home}.db`);
  const box = SecretBox.open(`${home}.key`);
  const redacted: string[] = [];
  const lines: string[] = [];
  const log = { redact: (s: string) => redacted.push(s), info: (m: string) => lines.push(m), warn: (m: string) => lines.push(m) };
  return { db, box, file: `${home}.db`, store: new SecretsStore(db, box), redacted, lines, log };
}

/** Every byte of the database files (the main file and its WAL). */
function dbBytes(file: string): Buffer {
  return Buffer.concat(
    readdirSync(dir)
      .filter((f) => join(dir, f).startsWith(file))
      .map((f) => readFileSync(join(dir, f))),
  );
}

describe('SecretsStore', () => {
  it('keeps each value sealed: state.db never holds it in clear', () => {
    const t = fresh();
    const value = `hf_${'x'.repeat(40)}-clear-marker`;
    expect(t.store.set('HF_TOKEN', value, 1000).created).toBe(true);
    expect(t.store.value('HF_TOKEN')).toBe(value);
    t.db.pragma('wal_checkpoint(FULL)');
    expect(dbBytes(t.file).includes(Buffer.from('clear-marker'))).toBe(false);
    const raw = t.db.prepare('SELECT value FROM secrets').get() as { value: Buffer };
    expect(t.box.decrypt(raw.value)).toBe(value);
    t.db.close();
  });

  it('replaces a value keeping when it was created, lists names only, deletes', () => {
    const t = fresh();
    t.store.set('B', 'one', 1000);
    t.store.set('A', 'two', 2000);
    const again = t.store.set('B', 'three', 3000);
    expect(again).toEqual({ created: false, row: { name: 'B', createdMs: 1000, updatedMs: 3000 } });
    expect(t.store.value('B')).toBe('three');
    expect(t.store.list()).toEqual([
      { name: 'A', createdMs: 2000, updatedMs: 2000 },
      { name: 'B', createdMs: 1000, updatedMs: 3000 },
    ]);
    expect(t.store.delete('B')).toBe(true);
    expect(t.store.delete('B')).toBe(false);
    expect(t.store.value('B')).toBeUndefined();
    t.db.close();
  });
});

describe('SecretService', () => {
  it('checks names and values, and errors name the secret, never the value', () => {
    const t = fresh();
    const s = new SecretService(t.store, t.log);
    expect(() => s.set({ name: 'a b', value: 'v' })).toThrow(BadRequestError);
    expect(() => s.set({ name: 'a b', value: 'v' })).toThrow('invalid secret name "a b": use 1 to 200 letters, digits, _ or -');
    expect(() => s.set({ name: 'X', value: '' })).toThrow('secret X: the value is empty');
    expect(() => s.set({ name: 'X', value: 'y'.repeat(5001) })).toThrow('secret X: the value has 5001 characters, more than 5000');
    expect(() => s.set({ name: 'X', value: 'bad\u0000value' })).toThrow('secret X: the value has a control character (U+0000)');
    expect(() => s.set({ name: 'X', value: 'bad\u0000value' })).not.toThrow(/bad/);
    // A certificate: tabs and line breaks are fine, as in env values.
    expect(s.set({ name: 'CERT', value: '-----BEGIN-----\n\tAAAA\n-----END-----' }).created).toBe(true);
    expect(() => s.get('NOPE')).toThrow(NotFoundError);
    expect(() => s.get('NOPE')).toThrow('no secret named NOPE: see `dstack secret list`');
    expect(() => s.delete('NOPE')).toThrow('no secret named NOPE');
    t.db.close();
  });

  it('set, get, list, delete; every value goes on the log redaction list, at set and at start', () => {
    const t = fresh();
    const s = new SecretService(t.store, t.log);
    expect(s.set({ name: 'HF_TOKEN', value: 'hf_first' })).toMatchObject({ created: true, secret: { name: 'HF_TOKEN' } });
    expect(s.set({ name: 'HF_TOKEN', value: 'hf_second' }).created).toBe(false);
    expect(s.get('HF_TOKEN')).toEqual({ name: 'HF_TOKEN', value: 'hf_second' });
    expect(s.list().secrets.map((x) => x.name)).toEqual(['HF_TOKEN']);
    expect(JSON.stringify(s.list())).not.toContain('hf_');
    expect(t.redacted).toEqual(['hf_first', 'hf_second']);
    expect(t.lines.join('\n')).not.toContain('hf_');
    expect(s.lookup('HF_TOKEN')).toBe('hf_second');
    expect(s.lookup('NOPE')).toBeUndefined();
    expect(s.lookup('bad name')).toBeUndefined();
    // The next daemon: the stored values are redacted before anything is logged.
    const redacted: string[] = [];
    new SecretService(t.store, { ...t.log, redact: (v) => redacted.push(v) });
    expect(redacted).toEqual(['hf_second']);
    s.delete('HF_TOKEN');
    expect(s.list().secrets).toEqual([]);
    t.db.close();
  });

  it('a value sealed with another key is reported at start, by name, and the others still redacted', () => {
    const t = fresh();
    t.store.set('GOOD', 'good-value');
    const other = new SecretsStore(t.db, SecretBox.open(join(dir, 'other.key')));
    other.set('FOREIGN', 'foreign-value');
    const redacted: string[] = [];
    const lines: string[] = [];
    new SecretService(t.store, { redact: (v) => redacted.push(v), info: () => {}, warn: (m) => lines.push(m) });
    expect(redacted).toEqual(['good-value']);
    expect(lines).toEqual(['secret FOREIGN: its sealed value cannot be opened']);
    t.db.close();
  });
});

function source(text: string, over: Partial<ConfigurationSource> = {}): ConfigurationSource {
  return { path: '.dstack.yml', text, cwd: '/work', env: [], callerEnv: {}, ...over };
}

const SECRETS: Record<string, string> = { HF_TOKEN: 'hf_from_store', REG_USER: 'robot', REG_PW: 'reg-pass' };
const lookup = (name: string) => SECRETS[name];

const RUN = `type: dev-environment
name: vscode
image: r.example/i
env:
  - HF_TOKEN=\${{ secrets.HF_TOKEN }}
  - PLAIN=hello
registry_auth:
  username: \${{ secrets.REG_USER }}
  password: \${{ secrets.REG_PW }}
`;

describe('${{ secrets.NAME }} when the daemon reads a run', () => {
  it('makes env values that took a secret secret env entries, and seals a registry user taken from one', () => {
    const r = readSource(source(RUN), 'dev-environment', 'ApplyRun', lookup);
    expect(r.config.env).toEqual({ HF_TOKEN: null, PLAIN: 'hello' });
    expect(r.secretEnv).toEqual({ HF_TOKEN: 'hf_from_store' });
    expect(r.secretRegistryUsername).toBe(true);
    const secrets = collectSecrets(r.config, r.secretEnv, r.secretRegistryUsername);
    expect(secrets).toEqual({ env: { HF_TOKEN: 'hf_from_store' }, registryPassword: 'reg-pass', registryUsername: 'robot' });
    const masked = maskConfiguration(r.config, secrets);
    expect(masked.env).toEqual({ HF_TOKEN: '***', PLAIN: 'hello' });
    expect(masked.registry_auth).toEqual({ username: '***', password: '***' });
    for (const v of Object.values(SECRETS)) expect(JSON.stringify(masked)).not.toContain(v);
    const redacted: string[] = [];
    redactRunSecrets({ redact: (v) => redacted.push(v) }, secrets);
    expect(redacted.sort()).toEqual(['hf_from_store', 'reg-pass', 'robot']);
    // The job: the value in secret_env (kept off the agent's disk and the container's config).
    const job = buildJobSpec({
      jobId: 'j',
      runId: 'r',
      runName: 'vscode',
      repoId: 'rid',
      config: revealConfiguration(masked, secrets),
      secretEnvNames: Object.keys(secrets.env),
      offer: {
        backend: 'local',
        region: 'local',
        instanceType: 'local',
        spot: false,
        price: 0,
        availability: 'available',
        instanceName: 'local',
        fleet: '',
      },
      baseImage: null,
      publicKey: 'ssh-ed25519 AAAA',
      ideVersion: '',
      expectCode: true,
      home: '/h',
    });
    expect(job.secretEnv).toEqual({ HF_TOKEN: 'hf_from_store' });
    expect(job.env.HF_TOKEN).toBeUndefined();
    expect(job.env.PLAIN).toBe('hello');
    expect(job.registryAuth).toEqual({ username: 'robot', password: 'reg-pass' });
  });

  it('an -e entry replaces an env value that took a secret', () => {
    const r = readSource(
      source(RUN, { env: [{ name: 'HF_TOKEN', value: 'typed', secret: false }] }),
      'dev-environment',
      'ApplyRun',
      lookup,
    );
    expect(r.config.env.HF_TOKEN).toBe('typed');
    expect(r.secretEnv).toEqual({});
  });

  it('a plain registry user stays plain', () => {
    const text = RUN.replace('${{ secrets.REG_USER }}', 'me');
    const r = readSource(source(text), 'dev-environment', 'ApplyRun', lookup);
    expect(r.secretRegistryUsername).toBe(false);
    expect(maskConfiguration(r.config, collectSecrets(r.config, r.secretEnv)).registry_auth).toEqual({ username: 'me', password: '***' });
  });

  it('an unknown secret is refused with the file and line, naming it', () => {
    const read = () => readSource(source(RUN.replace('secrets.HF_TOKEN', 'secrets.NOPE')), 'dev-environment', 'GetPlan', lookup);
    expect(read).toThrow(BadRequestError);
    expect(read).toThrow(/\.dstack\.yml:5:5: env HF_TOKEN: no secret named `NOPE`: set it with `dstack secret set NOPE`/);
    expect(() => readSource(source(RUN), 'dev-environment', 'GetPlan')).toThrow(/no secret named `HF_TOKEN`/);
  });
});
