// A run stopped right after apply (abort or graceful, at a range of moments while its job is still
// being made) leaves no container: the daemon's stop and RemoveJob race the agent's container create.
// The agent reaches the real test engine through a DockerGate, so the test can wait until every
// Docker call the agent still had going has ended before it looks.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DockerGate } from '../harness/docker-gate';
import { SMALL, Sandbox, configSource, containersOf, runName } from './helpers';

describe('stop right after apply', () => {
  let sb: Sandbox;
  let gate: DockerGate;

  beforeAll(async () => {
    gate = new DockerGate(inject('dockerHost').replace(/^unix:\/\//, ''));
    await gate.start();
    sb = new Sandbox('stop-race', { dockerHost: gate.dockerHost });
    await sb.start();
  });
  afterAll(async () => {
    await sb?.cleanup();
    await gate?.stop();
  });

  it('leaves no container, whenever the stop comes', async () => {
    // The agent deployed and answering first, so each apply starts its job at once.
    await sb.plan({ configuration: configSource(`type: dev-environment\nname: warm\n${SMALL}`), noRepo: true });
    const leaks: string[] = [];
    for (let i = 0; i < 8; i++) {
      const name = runName('race');
      await sb.apply({ configuration: configSource(`type: dev-environment\nname: ${name}\n${SMALL}`), noRepo: true });
      await new Promise((r) => setTimeout(r, i * 40));
      const stopped = await sb.stop(name, i % 2 === 0);
      const ended = await sb.waitForRun(name, (r) => ['terminated', 'failed', 'done'].includes(r.status), 'ended');
      expect(ended.status).toBe('terminated');
      await gate.settled();
      const left = await containersOf(name);
      if (left.length) leaks.push(`${name} (stop after ${i * 40} ms, run ${stopped.status}): ${left.join(', ')}`);
    }
    expect(leaks).toEqual([]);
  });
});
