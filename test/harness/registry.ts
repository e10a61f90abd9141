// A private registry (Debian's docker-registry) on 127.0.0.1 with htpasswd auth, holding one image
// that can only be pulled with the right password: the registry_auth tests pull from it.
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, writeFileSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { DOCKER_HOST } from './docker';
import { freePort, mustRun, waitFor } from './util';

export interface Registry {
  address: string; // 127.0.0.1:PORT
  username: string;
  password: string;
  /** An image in the registry that needs the credentials above. */
  privateImage: string;
  stop(): Promise<void>;
}

function registryAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/v2/', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 401 || res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.end();
  });
}

export async function startRegistry(dir: string, sourceImage: string): Promise<Registry> {
  mkdirSync(join(dir, 'data'), { recursive: true });
  const username = 'dstack-test';
  const password = `pw-${Math.random().toString(36).slice(2, 12)}`;
  const htpasswd = (await mustRun('htpasswd', ['-Bbn', username, password])).stdout;
  writeFileSync(join(dir, 'htpasswd'), htpasswd, { mode: 0o600 });
  const port = await freePort();
  const config = [
    'version: 0.1',
    'log: { level: warn }',
    `storage: { filesystem: { rootdirectory: ${join(dir, 'data')} } }`,
    `http: { addr: "127.0.0.1:${port}" }`,
    `auth: { htpasswd: { realm: dstack-test, path: ${join(dir, 'htpasswd')} } }`,
    '',
  ].join('\n');
  writeFileSync(join(dir, 'config.yml'), config);
  const log = openSync(join(dir, 'registry.log'), 'a');
  const child = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', log, log], detached: true });
  child.unref();
  let exited = false;
  child.on('exit', () => (exited = true));
  await waitFor(
    'docker-registry to answer',
    async () => {
      if (exited) throw new Error(`docker-registry exited: ${readFileSync(join(dir, 'registry.log'), 'utf8').slice(-2000)}`);
      return registryAnswers(port);
    },
    { timeoutMs: 30_000 },
  );

  const address = `127.0.0.1:${port}`;
  const privateImage = `${address}/private/busybox:v1`;
  // A docker CLI config of our own, so the login does not touch the user's ~/.docker.
  const env = { ...process.env, DOCKER_CONFIG: join(dir, 'docker-config') };
  const dockerArgs = ['-H', DOCKER_HOST];
  await mustRun('docker', [...dockerArgs, 'login', '--username', username, '--password-stdin', address], { env, input: password });
  await mustRun('docker', [...dockerArgs, 'tag', sourceImage, privateImage], { env });
  await mustRun('docker', [...dockerArgs, 'push', privateImage], { env, timeoutMs: 120_000 });
  // Leave the image only in the registry: a pull must go through auth.
  await mustRun('docker', [...dockerArgs, 'rmi', privateImage], { env });
  await mustRun('docker', [...dockerArgs, 'logout', address], { env });
  return {
    address,
    username,
    password,
    privateImage,
    stop: async () => {
      try {
        process.kill(child.pid!, 'SIGTERM');
      } catch {
        /* gone */
      }
    },
  };
}
