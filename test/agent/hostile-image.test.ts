// An image made to turn the agent's root privileges against the host: /etc/profile.d and root's home
// are links to folders of the host (absolute paths that exist on the host, not in the image), and
// its /bin/sh, which runs as the container's PID 1, keeps swapping them between those links and
// real folders while the agent writes the profile files. The host's folders keep their bytes,
// owners and modes; the run works or ends with a clear reason.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { JobState } from '@dstack/core/gen/agent';
import { docker } from '../harness/docker';
import { run, tempDir, waitFor } from '../harness/util';
import { makeKey, writeClientConfig } from '../agent-ssh/client';
import { startAgent, uniqueId, type AgentProcess } from './agent';
import { treeSnapshot } from './trees';

/** The image's /bin/sh: as PID 1 it starts the swapping (Python: two syscalls a swap), then becomes dash like any other sh. */
const HOSTILE_SH = (profileTarget: string, homeTarget: string) => `#!/bin/dash
if [ "$$" = 1 ]; then
  python3 -c '
import os, shutil
pairs = [("/etc/profile.d", "${profileTarget}"), ("/root", "${homeTarget}")]
while True:
    for path, target in pairs:
        try:
            if os.path.islink(path):
                os.unlink(path)
                os.mkdir(path)
            else:
                shutil.rmtree(path, ignore_errors=True)
                os.symlink(target, path)
        except OSError:
            pass
' >/dev/null 2>&1 &
fi
exec /bin/dash "$@"
`;

describe('a hostile image whose PID 1 swaps /etc/profile.d and the home for links to host folders', () => {
  let agent: AgentProcess;
  let cleanup: () => Promise<void>;
  const scratch = tempDir('hostile');
  // The host's folders the image's links name, in a canary folder of their own.
  const canary = join(scratch.path, 'canary');
  const hostProfile = join(canary, 'etc-profile.d');
  const hostHome = join(canary, 'root');
  const image = `dstack-test/hostile:${process.pid}-${Date.now()}`;
  let before: Record<string, string>;

  beforeAll(async () => {
    mkdirSync(hostProfile, { recursive: true });
    writeFileSync(join(hostProfile, 'host.sh'), 'echo host profile\n', { mode: 0o644 });
    mkdirSync(hostHome, { recursive: true });
    writeFileSync(join(hostHome, '.bashrc'), "# the host root's bashrc\n", { mode: 0o644 });
    chmodSync(hostHome, 0o700);
    before = treeSnapshot(canary);
    // The image: the debian test image with the links in place and the hostile /bin/sh.
    const maker = `maker-${process.pid}-${Date.now()}`;
    const script = HOSTILE_SH(hostProfile, hostHome).replace(/'/g, `'\\''`);
    await docker([
      'run',
      '--name',
      maker,
      '--network',
      'none',
      '--entrypoint',
      '/bin/dash',
      inject('debianImage'),
      '-c',
      `rm -rf /etc/profile.d /root && ln -s ${hostProfile} /etc/profile.d && ln -s ${hostHome} /root && rm -f /bin/sh && printf '%s' '${script}' > /bin/sh && chmod 755 /bin/sh`,
    ]);
    await docker(['commit', maker, image]);
    await docker(['rm', '-f', maker]);
    ({ agent, cleanup } = await startAgent({ DOCKER_HOST: inject('dockerHost') }));
  });
  afterAll(async () => {
    await cleanup?.();
    await docker(['rmi', '-f', image]).catch(() => {});
    scratch.cleanup();
  });

  it('leaves the host untouched, and the run works or ends with a clear reason', async () => {
    const key = await makeKey(scratch.path, 'id_hostile');
    const outcomes: string[] = [];
    for (let i = 0; i < 10; i++) {
      const jobId = uniqueId(`hostile${i}`);
      await agent.submit({ jobId, runtime: 'docker', image, env: { SECRET_ISH: 'job-env-value' }, authorizedKeys: [key.publicKey] });
      const job = await waitFor(
        `job ${jobId} to run or fail`,
        async () => {
          const j = await agent.getJob(jobId);
          return [JobState.JOB_STATE_RUNNING, JobState.JOB_STATE_FAILED].includes(j.status!.state) ? j : undefined;
        },
        { timeoutMs: 120_000, intervalMs: 100 },
      );
      if (job.status!.containerId && job.status!.state === JobState.JOB_STATE_RUNNING) {
        // The image does what it says: its PID 1 keeps swapping (a link one moment, a folder the next).
        // The swapper is a Python started in the background, so on a loaded machine it may not have
        // begun yet: look until both shapes were seen (or 30 s passed).
        const seen = await docker([
          'exec',
          job.status!.containerId,
          'python3',
          '-c',
          'import os, time\nseen = set()\nend = time.time() + 30\nwhile len(seen) < 2 and time.time() < end:\n    seen.add(os.path.islink("/etc/profile.d"))\nprint(sorted(seen))',
        ]);
        expect(seen.stdout.trim()).toBe('[False, True]');
      }
      if (job.status!.state === JobState.JOB_STATE_FAILED) {
        // A clear reason: the run says what went wrong.
        expect(job.status!.reason).not.toBe('');
        expect(job.status!.message).not.toBe('');
        outcomes.push(`failed: ${job.status!.reason}: ${job.status!.message}`);
      } else {
        const config = writeClientConfig(scratch.path, job.status!.sshPort, job.status!.sshHostKey, key.path, `ssh_config_${i}`);
        const res = await run('ssh', ['-F', config, 'job', 'echo "$SECRET_ISH"'], { timeoutMs: 60_000 });
        expect(res.signal).toBeNull();
        outcomes.push(`running; ssh: ${res.code === 0 ? res.stdout.trim() : `exit ${res.code}`}`);
        if (process.env.DSTACK_TEST_VERBOSE) console.log(outcomes[outcomes.length - 1]);
      }
      expect(treeSnapshot(canary)).toEqual(before);
      await agent.stopJob(jobId, true);
      await agent.removeJob(jobId);
    }
    expect(outcomes).toHaveLength(10);
    expect(treeSnapshot(canary)).toEqual(before);
  });
});
