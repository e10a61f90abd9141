// A private Docker engine for the test run: its own data root, exec root and socket, no bridge and no
// iptables (containers use the host network, as the agent's design needs). Started once per test run
// by the global setup; an engine already answering on the socket (a previous run's) is reused.
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { execOk, mustRun, waitFor } from './util';

export const DOCKER_ROOT = process.env.DSTACK_TEST_DOCKER_ROOT ?? '/var/lib/dstack-test-docker';
export const DOCKER_EXEC_ROOT = '/run/dstack-test-docker';
export const DOCKER_SOCKET = '/run/dstack-test-docker.sock';
export const DOCKER_HOST = `unix://${DOCKER_SOCKET}`;
const PIDFILE = '/run/dstack-test-docker.pid';
const LOG = '/tmp/dstack-test-dockerd.log';

export function dockerPing(socketPath = DOCKER_SOCKET): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/_ping', method: 'GET', timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

export interface Engine {
  host: string;
  socketPath: string;
}

export async function startDockerd(): Promise<Engine> {
  // Several test runs may share the engine (parallel runs on one machine), so it is left running
  // after a run: a later run finds it answering and reuses it.
  if (await dockerPing()) return { host: DOCKER_HOST, socketPath: DOCKER_SOCKET };
  if (!(await execOk('which', ['dockerd']))) {
    throw new Error('dockerd is not installed: run `apt-get install -y docker.io` (scripts/install-test-deps.sh does it)');
  }
  mkdirSync(DOCKER_ROOT, { recursive: true });
  mkdirSync(DOCKER_EXEC_ROOT, { recursive: true });
  const log = openSync(LOG, 'a');
  const child = spawn(
    'dockerd',
    [
      '--host',
      DOCKER_HOST,
      '--data-root',
      DOCKER_ROOT,
      '--exec-root',
      DOCKER_EXEC_ROOT,
      '--pidfile',
      PIDFILE,
      '--bridge=none',
      '--iptables=false',
      '--ip-masq=false',
      '--ip6tables=false',
    ],
    { detached: true, stdio: ['ignore', log, log] },
  );
  child.unref();
  let exited: string | undefined;
  child.on('exit', (code) => (exited = `dockerd exited with ${code}`));
  await waitFor(
    'dockerd to answer',
    async () => {
      if (exited) throw new Error(`${exited}; last lines of ${LOG}:\n${tail(LOG)}`);
      return dockerPing();
    },
    { timeoutMs: 60_000, intervalMs: 250 },
  );
  return { host: DOCKER_HOST, socketPath: DOCKER_SOCKET };
}

/** The docker CLI pointed at the test engine. */
export function docker(args: string[], opts: Parameters<typeof mustRun>[2] = {}) {
  return mustRun('docker', ['-H', DOCKER_HOST, ...args], opts);
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '(no log)';
  }
}
