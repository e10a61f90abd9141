// Real instances for the container-cloud doubles (RunPod, Vast.ai): each one a container of the test
// engine in a network namespace of its own, reached from this machine at its own address over a
// veth pair, as a pod is reached at its public IP. The container runs the image and command the
// launch asked for (the daemon's bootstrap), so what answers SSH is whatever that bootstrap started.
//
// Parallel-safe: addresses come from a 10.x subnet no other test network uses, veth names carry a
// random id. Needs root, iproute2 and nsenter.
import { DOCKER_HOST, docker } from '../harness/docker';
import { reserveSubnet } from '../harness/ssh-hosts';
import { mustRun, run } from '../harness/util';

export interface ContainerInstance {
  /** The container's id in the test engine. */
  containerId: string;
  /** Its address, reachable from this machine (ports inside the container are its public ports). */
  ip: string;
  /** running: its command runs; exited: it ended (exitCode); gone: removed. */
  state(): Promise<{ state: 'running' | 'exited' | 'gone'; exitCode: number }>;
  /** The container's output so far (the bootstrap's messages). */
  logs(): Promise<string>;
  /** Stops it (docker stop): what a pod stop does. */
  stop(): Promise<void>;
  /** Removes it for good: what terminating does. */
  remove(): Promise<void>;
}

export interface LaunchSpec {
  /** The container's name in the engine (unique). */
  name: string;
  image: string;
  /** Replaces the entrypoint and command: argv[0] the entrypoint, the rest its arguments. */
  command: string[];
  env: Record<string, string>;
  /** The network never comes up: nothing answers at its address (an instance whose SSH never answers). */
  dead?: boolean;
  /** Folders of this machine bound into the container (a provider's network volume). */
  binds?: { source: string; target: string }[];
}

export interface ContainerInstances {
  launch(spec: LaunchSpec): Promise<ContainerInstance>;
  /** Removes every container launched and the network. */
  destroy(): Promise<void>;
}

function randomId(): string {
  return Math.random().toString(36).slice(2, 6);
}

export async function containerInstances(): Promise<ContainerInstances> {
  if (process.getuid?.() !== 0) throw new Error('container instances need root (network namespaces)');
  const id = randomId();
  const { second, release } = await reserveSubnet();
  const containers: string[] = [];
  const links: string[] = [];
  let index = 0;

  const launch = async (spec: LaunchSpec): Promise<ContainerInstance> => {
    const n = index++;
    if (n > 250) throw new Error('container instances: out of addresses');
    const envArgs = Object.entries(spec.env).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
    const [entrypoint, ...args] = spec.command;
    const res = await docker([
      'run',
      '-d',
      '--name',
      spec.name,
      '--network',
      'none',
      '--label',
      `dstack-test-instances=${id}`,
      ...envArgs,
      ...(spec.binds ?? []).flatMap((b) => ['--mount', `type=bind,source=${b.source},target=${b.target}`]),
      '--entrypoint',
      entrypoint,
      spec.image,
      ...args,
    ]);
    const containerId = res.stdout.trim();
    containers.push(containerId);
    const ip = `10.${second}.${n}.2`;
    const pid = (await docker(['inspect', '-f', '{{.State.Pid}}', containerId])).stdout.trim();
    if (!spec.dead && pid !== '0') {
      const outer = `dc${id}${n}a`;
      const inner = `dc${id}${n}b`;
      await mustRun('ip', ['link', 'add', outer, 'type', 'veth', 'peer', 'name', inner]);
      links.push(outer);
      await mustRun('ip', ['link', 'set', inner, 'netns', pid]);
      await mustRun('ip', ['addr', 'add', `10.${second}.${n}.1/24`, 'dev', outer]);
      await mustRun('ip', ['link', 'set', outer, 'up']);
      await mustRun('nsenter', ['-t', pid, '-n', 'ip', 'addr', 'add', `${ip}/24`, 'dev', inner]);
      await mustRun('nsenter', ['-t', pid, '-n', 'ip', 'link', 'set', inner, 'up']);
      await mustRun('nsenter', ['-t', pid, '-n', 'ip', 'route', 'add', 'default', 'via', `10.${second}.${n}.1`]);
    }
    return {
      containerId,
      ip,
      async state() {
        const r = await run('docker', ['-H', DOCKER_HOST, 'inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', containerId]);
        if (r.code !== 0) return { state: 'gone', exitCode: 0 };
        const [status, code] = r.stdout.trim().split(' ');
        return { state: status === 'running' || status === 'created' ? 'running' : 'exited', exitCode: Number(code) };
      },
      async logs() {
        return (await docker(['logs', containerId]).catch(() => ({ stdout: '', stderr: '' }))).stdout;
      },
      async stop() {
        await docker(['stop', '-t', '2', containerId]).catch(() => undefined);
      },
      async remove() {
        await docker(['rm', '-f', containerId]).catch(() => undefined);
      },
    };
  };

  return {
    launch,
    async destroy() {
      for (const c of containers) await docker(['rm', '-f', c]).catch(() => undefined);
      for (const l of links) await run('ip', ['link', 'del', l]);
      await release();
    },
  };
}
