// A job SSH server in a process of its own, bundled the way the agent's single executable bundles
// ssh2 (see bundleServer): ssh2's native crypto addon cannot load, so its pure-JS/OpenSSL paths
// serve. Used by pure-js.test.ts and bench/ssh.bench.mjs. Prints one JSON line when listening.
import ssh2Crypto from 'ssh2/lib/protocol/crypto.js';
import { DockerEngine, dockerEndpoint } from '../../packages/agent/src/docker/engine';
import { dockerSessionTarget } from '../../packages/agent/src/docker/session-target';
import { hostSessionTarget } from '../../packages/agent/src/ssh-server/host-process';
import { generateHostKey, startJobSshServer } from '../../packages/agent/src/ssh-server/server';
import { setSftpHelperCommand } from '../../packages/agent/src/sftp/spawn';

export interface ServeConfig {
  authorizedKeys: string[];
  env: Record<string, string>;
  workingDir: string;
  /** Sessions in this container (DOCKER_HOST from the environment); else on the host. */
  containerId?: string;
  /** The agent executable, for the sftp subsystem of targets without an sftp-server. */
  sftpHelper?: string;
}

async function main(): Promise<void> {
  const cfg = JSON.parse(process.argv[2]) as ServeConfig;
  if (cfg.sftpHelper) setSftpHelperCommand([cfg.sftpHelper]);
  const target = cfg.containerId
    ? dockerSessionTarget({
        engine: new DockerEngine(dockerEndpoint()),
        containerId: cfg.containerId,
        workingDir: cfg.workingDir,
        env: cfg.env,
      })
    : hostSessionTarget({ workingDir: cfg.workingDir, env: cfg.env });
  const server = await startJobSshServer({
    hostKeyPem: generateHostKey().privatePem,
    authorizedKeys: cfg.authorizedKeys,
    target,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(
    `${JSON.stringify({ port: server.port, hostPublicKey: server.hostPublicKey, nativeCrypto: ssh2Crypto.bindingAvailable })}\n`,
  );
  process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
}

main().catch((err: Error) => {
  process.stderr.write(`serve-entry: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
