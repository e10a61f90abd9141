// SshHost against OpenSSH on the same host: a 100 MB upload next to `scp` of the same file, and an
// exec round trip next to `ssh host true` over a kept-open ControlMaster connection (the best OpenSSH
// does for repeated commands). Also the SFTP upload we did not pick (ssh2's SFTP write stream), next
// to the same scp, to keep that choice honest. And a gRPC call through bridgeUnixSocket. The host is a network namespace with its own sshd, made
// by the e2e harness (test/harness/ssh-hosts.ts, bundled here with esbuild): needs root and iproute2.
import { createReadStream, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBundle, median, report, sh, time, timeMedian } from './lib.mjs';

const require = createRequire(import.meta.url);

/** SshHost and the test-host harness (TypeScript) bundled for this script; npm packages stay external. */
function load() {
  return loadBundle(
    'ssh-host',
    "export { SshHost, FileHostKeyStore, bridgeUnixSocket } from './packages/backends/src/ssh-client/index.ts';\n" +
      "export { createTestHosts } from './test/harness/ssh-hosts.ts';",
  );
}

/** ssh2's SFTP write stream into a file: the upload path we did not take. */
function sftpUpload(client, localPath, remotePath) {
  return new Promise((resolve, reject) => {
    client.sftp((err, sftp) => {
      if (err) return reject(err);
      const ws = sftp.createWriteStream(remotePath);
      ws.on('close', () => {
        sftp.end();
        resolve();
      });
      ws.on('error', reject);
      createReadStream(localPath).pipe(ws);
    });
  });
}

export default async function sshHostBench() {
  if (process.getuid?.() !== 0) throw new Error('needs root (network namespaces for the test host)');
  const lib = await load();
  const { Client } = require('ssh2');
  const dir = mkdtempSync(join(tmpdir(), 'dstack-bench-ssh-'));
  const net = await lib.createTestHosts([{ name: 'b1' }]);
  const host = net.host('b1');
  const conn = new lib.SshHost({
    hostname: host.address,
    user: 'root',
    identityFile: net.keyPath,
    knownHosts: new lib.FileHostKeyStore(join(dir, 'known_hosts')),
    // The host's own key, from its sshd's files: pinned, as `host_key:` in a fleet file pins it.
    hostKey: readFileSync(join(net.dir, 'b1', 'host_key.pub'), 'utf8')
      .split(' ')
      .slice(0, 2)
      .join(' '),
  });
  const control = join(dir, 'ctl');
  const sshOpts = [
    '-F',
    '/dev/null',
    '-i',
    net.keyPath,
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'BatchMode=yes',
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'LogLevel=ERROR',
    '-o',
    `ControlPath=${control}`,
  ];
  const target = `root@${host.address}`;
  const sftpClient = new Client();
  try {
    sh('ssh', [...sshOpts, '-o', 'ControlMaster=yes', '-o', 'ControlPersist=yes', '-N', '-f', target]);
    await new Promise((resolve, reject) =>
      sftpClient
        .on('ready', resolve)
        .on('error', reject)
        .connect({
          host: host.address,
          username: 'root',
          privateKey: readFileSync(net.keyPath),
        }),
    );

    // Exec round trip, both on an open connection.
    await conn.exec('true');
    const execMs = await timeMedian(() => conn.exec('true'), { n: 30, warmup: 3 });
    const sshMs = await timeMedian(() => sh('ssh', [...sshOpts, target, 'true']), { n: 30, warmup: 3 });
    report({ name: 'SshHost.exec("true") round trip', value: execMs, baseline: sshMs, baselineName: 'ssh (ControlMaster) true' });

    // A gRPC call to a server on the host's unix socket through bridgeUnixSocket, next to the same
    // call on the socket directly (how the daemon talks to a local agent).
    const grpc = require('@grpc/grpc-js');
    const bytes = { requestSerialize: (b) => b, requestDeserialize: (b) => b, responseSerialize: (b) => b, responseDeserialize: (b) => b };
    const service = { echo: { path: '/bench.Echo/Echo', requestStream: false, responseStream: false, ...bytes } };
    const server = new grpc.Server();
    server.addService(service, { echo: (call, cb) => cb(null, call.request) });
    const serverSock = join(host.homeDir, 'bench-grpc.sock'); // the host's /root/bench-grpc.sock
    await new Promise((resolve, reject) =>
      server.bindAsync(`unix://${serverSock}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())),
    );
    const bridge = await lib.bridgeUnixSocket(conn, '/root/bench-grpc.sock', join(dir, 'bridge.sock'));
    const Echo = grpc.makeGenericClientConstructor(service, 'Echo');
    const viaBridge = new Echo(`unix://${bridge.localPath}`, grpc.credentials.createInsecure());
    const direct = new Echo(`unix://${serverSock}`, grpc.credentials.createInsecure());
    const call = (c) => new Promise((resolve, reject) => c.echo(Buffer.from('ping'), (e, r) => (e ? reject(e) : resolve(r))));
    try {
      const bridged = await timeMedian(() => call(viaBridge), { n: 50, warmup: 5 });
      const local = await timeMedian(() => call(direct), { n: 50, warmup: 5 });
      report({
        name: 'gRPC unary call through bridgeUnixSocket over SSH',
        value: bridged,
        baseline: local,
        baselineName: 'same call on the socket directly',
      });
    } finally {
      viaBridge.close();
      direct.close();
      await bridge.close();
      server.forceShutdown();
    }

    // 100 MB of random bytes (incompressible: the transfer itself is measured).
    const file = join(dir, 'payload.bin');
    writeFileSync(file, randomBytes(100 << 20));
    const runs = 3;
    const upload = [];
    const scp = [];
    const sftp = [];
    for (let i = 0; i < runs; i++) {
      upload.push(await time(() => conn.upload(createReadStream(file), '/root/bench/upload.bin', 0o644)));
      scp.push(await time(() => sh('scp', ['-q', ...sshOpts, file, `${target}:/root/bench/scp.bin`])));
      sftp.push(await time(() => sftpUpload(sftpClient, file, '/root/bench/sftp.bin')));
    }
    const check = (await conn.exec('cd /root/bench && sha256sum upload.bin scp.bin sftp.bin | cut -c1-64 | uniq | wc -l')).stdout.trim();
    if (check !== '1') throw new Error('the uploaded copies differ');
    report({ name: 'SshHost.upload 100 MB', value: median(upload), baseline: median(scp), baselineName: 'scp (ControlMaster)' });
    report({
      name: 'ssh2 SFTP write stream 100 MB (not used)',
      value: median(sftp),
      baseline: median(scp),
      baselineName: 'scp (ControlMaster)',
    });

    // How an agent travels: the node executable (what the agent is made of), compressed once ahead
    // (not timed, as the daemon caches it) and decompressed on the host, next to scp of the raw file.
    const nodeGz = join(dir, 'node.gz');
    writeFileSync(nodeGz, gzipSync(readFileSync(process.execPath), { level: 6 }));
    const agentRows = async (label) => {
      const gz = [];
      const scpRaw = [];
      for (let i = 0; i < runs; i++) {
        gz.push(await time(() => conn.upload(createReadStream(nodeGz), '/root/bench/node', 0o755, { gunzip: true })));
        scpRaw.push(await time(() => sh('scp', ['-q', ...sshOpts, process.execPath, `${target}:/root/bench/node-scp`])));
      }
      const version = (await conn.exec('/root/bench/node --version')).stdout.trim();
      if (version !== process.version) throw new Error(`the uploaded node says ${version}`);
      const mb = (statSync(process.execPath).size / 2 ** 20).toFixed(0);
      const gzMb = (statSync(nodeGz).size / 2 ** 20).toFixed(0);
      report({
        name: `SshHost.upload gunzip node executable (${mb} MB as ${gzMb} MB)${label}`,
        value: median(gz),
        baseline: median(scpRaw),
        baselineName: 'scp of it uncompressed',
      });
    };
    await agentRows('');
    // The veth link runs at memory speed, where compression cannot pay; a real link to a server is
    // slower. The same on this machine's end of the link shaped to 1 Gbit/s (tc tbf).
    const outer = sh('ip', ['-o', '-4', 'addr', 'show'])
      .split('\n')
      .find((l) => l.includes(` ${host.address.replace(/\.\d+$/, '.1')}/`))
      ?.split(/\s+/)[1];
    if (!outer) throw new Error(`no interface of this machine faces ${host.address}`);
    sh('tc', ['qdisc', 'add', 'dev', outer, 'root', 'tbf', 'rate', '1gbit', 'burst', '512kb', 'latency', '100ms']);
    await agentRows(', 1 Gbit/s link');
  } finally {
    sftpClient.end();
    await conn.close();
    try {
      sh('ssh', [...sshOpts, '-O', 'exit', target], { stdio: 'ignore' });
    } catch {
      /* the master is gone already */
    }
    await net.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}
