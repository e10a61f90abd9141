// A docker run is `running`, with its Host block written, as soon as its job starts, while its
// container may still be being created (the agent makes the container beside the code upload, and
// an early `ssh NAME` session waits for it: test/agent/early-ssh.test.ts pins the agent's side).
// So Run.job.container_id is empty until the container exists; then it names that container. A
// loaded machine shows that moment now and then; the DockerGate holds the create so this test
// sees it every time.
import { afterEach, expect, inject, it } from 'vitest';
import { DockerGate } from '../harness/docker-gate';
import { SMALL, Sandbox, configSource, containersOf, runName } from './helpers';

let sb: Sandbox | undefined;
let gate: DockerGate | undefined;
afterEach(async () => {
  gate?.release();
  await sb?.cleanup();
  await gate?.stop();
  sb = undefined;
  gate = undefined;
});

it('is running and reachable before its container exists, and names the container once it does', async () => {
  gate = new DockerGate(inject('dockerHost').replace(/^unix:\/\//, ''));
  await gate.start();
  sb = new Sandbox('container-id', { dockerHost: gate.dockerHost });
  await sb.start();
  const name = runName('cid');
  gate.hold(/^POST \/v[\d.]+\/containers\/create/);
  await sb.apply({ configuration: configSource(`type: dev-environment\nname: ${name}\n${SMALL}`), noRepo: true });

  const up = await sb.waitForRun(name, (r) => r.status === 'running' && r.sshAlias === name, 'running with its Host block');
  expect(await gate.waitHeld(1)).toHaveLength(1);
  expect(up.job).toMatchObject({ status: 'starting', containerId: '' });
  expect(await containersOf(name)).toEqual([]);

  // `ssh NAME` connects now; its session waits for the container, then runs in it.
  const session = sb.ssh(name, 'test -d /workflow && echo in-the-container');
  await sb.waitForRun(name, (r) => (r.activity?.execSessions ?? 0) > 0, 'an ssh session waiting');
  gate.release();
  expect((await session).stdout.trim()).toBe('in-the-container');

  const named = await sb.waitForRun(name, (r) => r.job?.containerId !== '', 'naming its container');
  expect(named.status).toBe('running');
  expect(await containersOf(name)).toEqual([named.job!.containerId]);
});
