import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SshConfigFiles, ensureInclude, includeLine } from './config-files';
import { ensureUserKey, generateEd25519 } from './keys';

const tmp = mkdtempSync(join(tmpdir(), 'dstack-sshcfg-'));
afterAll(() => {
  spawnSync('chattr', ['-R', '-i', tmp]);
  rmSync(tmp, { recursive: true, force: true });
});

/** What OpenSSH makes of a Host block: `ssh -G`. */
function resolved(config: string, host: string): Record<string, string> {
  const out = execFileSync('ssh', ['-F', config, '-G', host], { encoding: 'utf8' });
  const map: Record<string, string> = {};
  for (const l of out.split('\n')) {
    const i = l.indexOf(' ');
    if (i > 0 && !(l.slice(0, i) in map)) map[l.slice(0, i)] = l.slice(i + 1);
  }
  return map;
}

const HOST_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl job-key';

describe('the user key', () => {
  it('is made once, 0600, in OpenSSH format', () => {
    const p = join(tmp, 'home1', 'ssh', 'id_ed25519');
    const a = ensureUserKey(p);
    expect(statSync(p).mode & 0o777).toBe(0o600);
    expect(readFileSync(p, 'utf8')).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----/);
    expect(a.publicKey).toMatch(/^ssh-ed25519 \S+ dstack$/);
    expect(ensureUserKey(p)).toEqual(a);
    // OpenSSH itself derives the same public key from it.
    const derived = execFileSync('ssh-keygen', ['-y', '-f', p], { encoding: 'utf8' }).trim();
    expect(derived.split(' ').slice(0, 2)).toEqual(a.publicKey.split(' ').slice(0, 2));
  });

  it('is always a key OpenSSH reads, whatever bytes it has (200 keys)', () => {
    const dir = join(tmp, 'many');
    mkdirSync(dir);
    for (let i = 0; i < 200; i++) {
      const k = generateEd25519('t');
      const f = join(dir, `k${i}`);
      writeFileSync(f, k.privateKey, { mode: 0o600 });
      const derived = execFileSync('ssh-keygen', ['-y', '-f', f], { encoding: 'utf8' }).trim();
      expect(derived.split(' ').slice(0, 2).join(' ')).toBe(k.publicKey.split(' ').slice(0, 2).join(' '));
    }
  });
});

describe('our ssh config', () => {
  const dir = join(tmp, 'cfg');
  const files = new SshConfigFiles(join(dir, 'config'), join(dir, 'known_hosts'), join(dir, 'id_ed25519'));

  it('gets a block per run that OpenSSH reads as meant, with the host key pinned', () => {
    files.upsert({ alias: 'vscode', hostname: '127.0.0.1', port: 40123, user: 'root', hostKey: HOST_KEY, hostKeyAlias: 'dstack-vscode-1' });
    files.upsert({ alias: 'other', hostname: '127.0.0.1', port: 40124, user: 'root', hostKey: HOST_KEY, hostKeyAlias: 'dstack-other-2' });
    expect(statSync(files.configPath).mode & 0o777).toBe(0o600);
    const g = resolved(files.configPath, 'vscode');
    expect(g).toMatchObject({
      hostname: '127.0.0.1',
      port: '40123',
      user: 'root',
      identitiesonly: 'yes',
      stricthostkeychecking: 'true',
      hostkeyalias: 'dstack-vscode-1',
      userknownhostsfile: files.knownHostsPath,
      identityfile: files.identityFile,
    });
    expect(readFileSync(files.knownHostsPath, 'utf8')).toContain(`dstack-vscode-1 ${HOST_KEY.split(' ').slice(0, 2).join(' ')}`);
    // ssh-keygen finds the pinned key under the alias.
    const found = execFileSync('ssh-keygen', ['-F', 'dstack-vscode-1', '-f', files.knownHostsPath], { encoding: 'utf8' });
    expect(found).toContain('AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl');
    expect(files.aliases().sort()).toEqual(['other', 'vscode']);
  });

  it('replaces a block in place and removes it with its key, leaving the others', () => {
    files.upsert({ alias: 'vscode', hostname: '127.0.0.1', port: 40999, user: 'root', hostKey: HOST_KEY, hostKeyAlias: 'dstack-vscode-3' });
    expect(resolved(files.configPath, 'vscode').port).toBe('40999');
    expect(readFileSync(files.configPath, 'utf8').match(/^Host vscode$/gm)).toHaveLength(1);
    expect(files.remove('vscode')).toBe(true);
    expect(files.aliases()).toEqual(['other']);
    expect(readFileSync(files.knownHostsPath, 'utf8')).not.toContain('dstack-vscode-');
    expect(resolved(files.configPath, 'vscode').hostname).toBe('vscode'); // no block: OpenSSH's defaults
    expect(resolved(files.configPath, 'other').port).toBe('40124');
    expect(files.remove('vscode')).toBe(false);
  });

  it('jumps through the host for a remote run', () => {
    files.upsert({
      alias: 'remote',
      hostname: '127.0.0.1',
      port: 41000,
      user: 'root',
      hostKey: HOST_KEY,
      hostKeyAlias: 'dstack-remote-1',
      proxy: {
        hostname: '10.1.0.2',
        port: 22,
        user: 'ubuntu',
        identityFile: '/keys/fleet',
        proxyJump: { hostname: '10.1.0.1', port: 2222, user: 'jump' },
      },
    });
    const g = resolved(files.configPath, 'remote');
    expect(g.proxyjump).toBe('remote-jump');
    expect(resolved(files.configPath, 'remote-jump')).toMatchObject({
      hostname: '10.1.0.2',
      user: 'ubuntu',
      proxyjump: 'remote-jump2',
      identityfile: '/keys/fleet',
    });
    expect(resolved(files.configPath, 'remote-jump2')).toMatchObject({ hostname: '10.1.0.1', port: '2222', user: 'jump' });
    files.remove('remote');
    expect(readFileSync(files.configPath, 'utf8')).not.toContain('remote-jump');
  });

  it('pins every hop: the fleet host and jump host keys under aliases, never accept-new', () => {
    const hostKey = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEZNw+gudN60IQ1Y13LweQJAYoQi26r+L77/AFePw8wE';
    files.upsert({
      alias: 'pinned',
      hostname: '127.0.0.1',
      port: 41001,
      user: 'root',
      hostKey: HOST_KEY,
      hostKeyAlias: 'dstack-pinned-1',
      proxy: {
        hostname: '10.1.0.2',
        port: 22,
        user: 'ubuntu',
        identityFile: '/keys/fleet',
        hostKeys: [hostKey],
        proxyJump: { hostname: '10.1.0.1', port: 22, user: 'jump' },
      },
    });
    const text = readFileSync(files.configPath, 'utf8');
    expect(text).not.toMatch(/accept-new/i);
    for (const host of ['pinned', 'pinned-jump', 'pinned-jump2'])
      expect(resolved(files.configPath, host).stricthostkeychecking).toBe('true');
    expect(resolved(files.configPath, 'pinned-jump').hostkeyalias).toBe('dstack-host-pinned-1');
    expect(readFileSync(files.knownHostsPath, 'utf8')).toContain(`dstack-host-pinned-1 ${hostKey} # dstack run pinned\n`);
    // The jump host without a recorded key gets no alias and no key: OpenSSH refuses it rather than trusting it.
    expect(resolved(files.configPath, 'pinned-jump2').hostkeyalias).toBeUndefined();
    files.remove('pinned');
  });

  it('writes fleet values OpenSSH reads back as written: spaces, `#`, `%` and quotes in a key path', () => {
    const identityFile = '/keys/my key #1/100% "x"';
    files.upsert({
      alias: 'tricky',
      hostname: '127.0.0.1',
      port: 41002,
      user: 'root',
      hostKey: HOST_KEY,
      hostKeyAlias: 'dstack-tricky-1',
      proxy: { hostname: '10.1.0.2', port: 22, user: 'first.last', identityFile },
    });
    const g = resolved(files.configPath, 'tricky-jump');
    // ssh -G shows IdentityFile before its %-expansion: `%%` is the literal `%`.
    expect(g).toMatchObject({ hostname: '10.1.0.2', user: 'first.last', identityfile: identityFile.replace('%', '%%') });
    expect(() =>
      files.upsert({
        alias: 'evil',
        hostname: '127.0.0.1',
        port: 1,
        user: 'root',
        hostKey: HOST_KEY,
        hostKeyAlias: 'a',
        proxy: { hostname: 'h\nProxyCommand x', port: 22, user: 'u' },
      }),
    ).toThrow(/control character/);
    expect(files.has('evil')).toBe(false);
    files.remove('tricky');
  });
});

describe('the Include line in ~/.ssh/config', () => {
  const ours = join(tmp, 'dstack home', 'ssh', 'config');

  it('is added once at the top, leaving the rest as it was', () => {
    const home = join(tmp, 'h1');
    mkdirSync(join(home, '.ssh'), { recursive: true });
    const before = 'Host *\n  ServerAliveInterval 60\n';
    writeFileSync(join(home, '.ssh', 'config'), before);
    expect(ensureInclude(home, ours)).toEqual({ added: true });
    expect(ensureInclude(home, ours)).toEqual({ added: false });
    const text = readFileSync(join(home, '.ssh', 'config'), 'utf8');
    expect(text.indexOf(includeLine(ours))).toBeLessThan(text.indexOf('Host *'));
    expect(text.endsWith(before)).toBe(true);
    expect(text.split(includeLine(ours)).length).toBe(2);
  });

  it('creates ~/.ssh and the file when missing', () => {
    const home = join(tmp, 'h2');
    mkdirSync(home);
    expect(ensureInclude(home, ours).added).toBe(true);
    expect(statSync(join(home, '.ssh')).mode & 0o777).toBe(0o700);
    expect(statSync(join(home, '.ssh', 'config')).mode & 0o777).toBe(0o600);
  });

  it('turns a permission error into a warning with the exact line, changing nothing', () => {
    const home = join(tmp, 'h3');
    mkdirSync(join(home, '.ssh'), { recursive: true });
    const file = join(home, '.ssh', 'config');
    writeFileSync(file, 'Host a\n');
    execFileSync('chattr', ['+i', file]); // even root may not write it
    const res = ensureInclude(home, ours);
    expect(res.added).toBe(false);
    expect(res.warning).toBe(
      `could not add dstack's Include line to ${file} (EPERM): add this line at its top yourself: Include "${ours}"`,
    );
    expect(readFileSync(file, 'utf8')).toBe('Host a\n');
  });
});
