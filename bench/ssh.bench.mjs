// The job SSH server as shipped (bundled whole like the agent executable, so ssh2 runs its pure-JS/
// OpenSSL crypto) next to OpenSSH's sshd started here on a free loopback port, same client, same run:
// `ssh HOST true` latency (sessions in a Debian container through Docker exec, and on the host), bulk
// throughput (1 GiB through `ssh ... cat`, both directions, the median of interleaved rounds) and a
// 100 MB file by scp and sftp.
// Needs the e2e harness's engine and Debian image (any e2e run makes them).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleServer } from '../test/agent-ssh/bundle-server.mjs';
import { median, report, root, sh, time, timeMedian } from './lib.mjs';

const DOCKER_HOST = 'unix:///run/dstack-test-docker.sock';
const IMAGE = 'dstack-test/debian:bookworm-v1';
const GiB = 1024 * 1024 * 1024;
const BULK_ROUNDS = 3;

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** The test suites' serve-entry, bundled as the agent build bundles: native addons left out. */
async function bundled() {
  const out = join(root, '.cache/bench/ssh-serve.cjs');
  mkdirSync(join(root, '.cache/bench'), { recursive: true });
  await bundleServer(out);
  return out;
}

async function startOurs(bundle, cfg, env = {}) {
  const child = spawn(process.execPath, [bundle, JSON.stringify(cfg)], {
    env: { ...process.env, DOCKER_HOST, ...env },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const line = await new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`the bundled SSH server exited ${code}`)));
  });
  const info = JSON.parse(line);
  if (info.nativeCrypto) throw new Error('ssh2 loaded its native addon: the bench must measure what the executable runs');
  return { ...info, stop: () => child.kill('SIGTERM') };
}

async function startSshd(dir, authorizedKey) {
  const port = await freePort();
  sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'sshd_host_key')]);
  writeFileSync(join(dir, 'authorized_keys'), `${authorizedKey}\n`);
  const sftpServer = ['/usr/lib/openssh/sftp-server', '/usr/libexec/openssh/sftp-server'].find((p) => {
    try {
      return readFileSync(p) && true;
    } catch {
      return false;
    }
  });
  writeFileSync(
    join(dir, 'sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(dir, 'sshd_host_key')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'UsePAM no',
      'StrictModes no',
      'PermitRootLogin yes',
      `Subsystem sftp ${sftpServer}`,
      '',
    ].join('\n'),
  );
  mkdirSync('/run/sshd', { recursive: true });
  const child = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: 'ignore' });
  const hostKey = readFileSync(join(dir, 'sshd_host_key.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
  return { port, hostPublicKey: hostKey, stop: () => child.kill('SIGTERM') };
}

function clientConfig(dir, name, port, hostKey, keyPath) {
  writeFileSync(join(dir, `${name}.known_hosts`), `[127.0.0.1]:${port} ${hostKey}\n`);
  const path = join(dir, `${name}.config`);
  writeFileSync(
    path,
    `Host ${name}\n  HostName 127.0.0.1\n  Port ${port}\n  User root\n  IdentityFile ${keyPath}\n  IdentitiesOnly yes\n` +
      `  UserKnownHostsFile ${join(dir, `${name}.known_hosts`)}\n  StrictHostKeyChecking yes\n  BatchMode yes\n  LogLevel ERROR\n`,
  );
  return path;
}

const ssh = (cfg, host, cmd) => sh('ssh', ['-F', cfg, host, cmd]);

async function waitUp(cfg, host) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      return ssh(cfg, host, 'true');
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Seconds to move `bytes` through `ssh HOST cat`, download (remote head → local) or upload. */
function bulk(cfg, host, direction, bytes) {
  const cmd =
    direction === 'down'
      ? `ssh -F ${cfg} ${host} 'head -c ${bytes} /dev/zero' | wc -c`
      : `head -c ${bytes} /dev/zero | ssh -F ${cfg} ${host} 'wc -c'`;
  return time(() => {
    const out = execFileSync('sh', ['-c', cmd], { encoding: 'utf8', maxBuffer: 1 << 20 });
    if (Number(out.trim()) !== bytes) throw new Error(`${direction}: moved ${out.trim()} bytes, not ${bytes}`);
  }).then((ms) => ms / 1000);
}

export default async function () {
  const dir = mkdtempSync(join(tmpdir(), 'dstack-bench-ssh-'));
  const stops = [];
  let container;
  try {
    sh('docker', ['-H', DOCKER_HOST, 'image', 'inspect', IMAGE]);
    container = sh('docker', ['-H', DOCKER_HOST, 'run', '-d', '--network', 'host', IMAGE, 'sleep', 'infinity']).trim();
    const keyPath = join(dir, 'id_ed25519');
    sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyPath]);
    const pub = readFileSync(`${keyPath}.pub`, 'utf8').trim();
    const bundle = await bundled();

    const inContainer = await startOurs(bundle, { authorizedKeys: [pub], env: {}, workingDir: '/root', containerId: container });
    stops.push(inContainer.stop);
    const onHost = await startOurs(bundle, { authorizedKeys: [pub], env: {}, workingDir: dir });
    stops.push(onHost.stop);
    // The same container with sessions on Docker's exec stream (what FIFOs replaced), for comparison.
    const viaStream = await startOurs(
      bundle,
      { authorizedKeys: [pub], env: {}, workingDir: '/root', containerId: container },
      { DSTACK_AGENT_EXEC_STREAM: '1' },
    );
    stops.push(viaStream.stop);
    const sshd = await startSshd(dir, pub);
    stops.push(sshd.stop);
    const cfgC = clientConfig(dir, 'agent-container', inContainer.port, inContainer.hostPublicKey, keyPath);
    const cfgH = clientConfig(dir, 'agent-host', onHost.port, onHost.hostPublicKey, keyPath);
    const cfgS = clientConfig(dir, 'sshd', sshd.port, sshd.hostPublicKey, keyPath);
    const cfgX = clientConfig(dir, 'agent-stream', viaStream.port, viaStream.hostPublicKey, keyPath);
    for (const [cfg, host] of [
      [cfgC, 'agent-container'],
      [cfgH, 'agent-host'],
      [cfgS, 'sshd'],
      [cfgX, 'agent-stream'],
    ])
      await waitUp(cfg, host);

    const opts = { n: 15, warmup: 2 };
    const sshdTrue = await timeMedian(() => ssh(cfgS, 'sshd', 'true'), opts);
    const containerTrue = await timeMedian(() => ssh(cfgC, 'agent-container', 'true'), opts);
    const hostTrue = await timeMedian(() => ssh(cfgH, 'agent-host', 'true'), opts);
    report({
      name: '`ssh HOST true`, agent, session in a container (docker exec)',
      value: containerTrue,
      baseline: sshdTrue,
      baselineName: 'sshd',
      goal: 0.8,
    });
    report({ name: '`ssh HOST true`, agent, session on the host', value: hostTrue, baseline: sshdTrue, baselineName: 'sshd', goal: 0.8 });

    // Each side's cipher with OpenSSH's default preferences: the comparison is of what a user gets.
    const cipherOf = (cfg, host) =>
      /server->client cipher: (\S+)/.exec(spawnSync('ssh', ['-F', cfg, '-v', host, 'true'], { encoding: 'utf8' }).stderr)?.[1];
    console.log(`ciphers negotiated: agent ${cipherOf(cfgH, 'agent-host')}, sshd ${cipherOf(cfgS, 'sshd')}`);

    // Throughput as time for the same bytes: ratio ≤ 1/0.9 is "≥ 0.9× sshd's throughput".
    const goal = Number((1 / 0.9).toFixed(2));
    // The container's rows: the command's stdio on FIFOs (docker/pipe-exec.ts), and for comparison
    // on Docker's exec stream (dockerd copies every byte); the host's rows are the SSH server alone.
    // Rounds interleave the servers, so load from elsewhere falls on all of them alike; medians.
    const servers = [
      ['sshd', cfgS],
      ['agent-container', cfgC],
      ['agent-host', cfgH],
      ['agent-stream', cfgX],
    ];
    for (const direction of ['down', 'up']) {
      const runs = Object.fromEntries(servers.map(([host]) => [host, []]));
      for (let round = 0; round < BULK_ROUNDS; round++)
        for (const [host, cfg] of servers) runs[host].push(await bulk(cfg, host, direction, GiB));
      const [base, inC, onH, viaX] = servers.map(([host]) => median(runs[host]));
      const way = direction === 'down' ? 'download' : 'upload';
      report({
        name: `1 GiB through \`ssh ... cat\` (${way}, container), s`,
        value: inC,
        baseline: base,
        baselineName: 'sshd',
        goal,
        unit: 's',
      });
      report({
        name: `1 GiB through \`ssh ... cat\` (${way}, host), s`,
        value: onH,
        baseline: base,
        baselineName: 'sshd',
        goal,
        unit: 's',
      });
      report({
        name: `  the same, container, through Docker's exec stream (the fallback), s`,
        value: viaX,
        baseline: base,
        baselineName: 'sshd',
        unit: 's',
      });
    }

    const file = join(dir, 'file-100MB');
    execFileSync('sh', ['-c', `head -c ${100 * 1024 * 1024} /dev/urandom > ${file}`]);
    const remoteSshd = join(dir, 'via-sshd');
    const copy = async (tool, cfg, host, remote, direction) => {
      const args =
        tool === 'scp'
          ? ['-F', cfg, ...(direction === 'up' ? [file, `${host}:${remote}`] : [`${host}:${remote}`, `${file}.back`])]
          : ['-F', cfg, '-b', '-', host];
      const input = direction === 'up' ? `put ${file} ${remote}\n` : `get ${remote} ${file}.back\n`;
      return time(() => execFileSync(tool, args, tool === 'sftp' ? { input } : {})).then((ms) => ms / 1000);
    };
    for (const tool of ['scp', 'sftp']) {
      for (const direction of ['up', 'down']) {
        const [base, ours] = [[], []];
        for (let round = 0; round < BULK_ROUNDS; round++) {
          base.push(await copy(tool, cfgS, 'sshd', remoteSshd, direction));
          ours.push(await copy(tool, cfgC, 'agent-container', '/tmp/bench-100MB', direction));
        }
        report({
          name: `100 MB by ${tool} (${direction === 'up' ? 'upload' : 'download'}, container), s`,
          value: median(ours),
          baseline: median(base),
          baselineName: 'sshd',
          goal,
          unit: 's',
        });
      }
    }
  } finally {
    for (const stop of stops) stop();
    if (container) sh('docker', ['-H', DOCKER_HOST, 'rm', '-f', container]);
    rmSync(dir, { recursive: true, force: true });
  }
}
