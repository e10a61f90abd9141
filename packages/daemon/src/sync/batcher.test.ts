import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Batcher } from './batcher';

const OPTS = { quietMs: 100, bulkQuietMs: 600, bulkThreshold: 50, maxWaitMs: 5_000, holdMaxMs: 60_000, holdPollMs: 100 };

describe('Batcher', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('sends a burst as one batch once the repo is quiet', async () => {
    const ready = vi.fn();
    const b = new Batcher(OPTS, ready);
    for (let i = 0; i < 10; i++) {
      b.add(`f${i}`, 'file');
      await vi.advanceTimersByTimeAsync(50);
    }
    expect(ready).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(60);
    expect(ready).toHaveBeenCalledTimes(1);
    expect([...b.take().keys()]).toEqual(Array.from({ length: 10 }, (_, i) => `f${i}`));
    b.close();
  });

  it('waits longer between events once the batch is large (a checkout writing files)', async () => {
    const ready = vi.fn();
    const b = new Batcher(OPTS, ready);
    for (let i = 0; i < 60; i++) b.add(`f${i}`, 'file');
    await vi.advanceTimersByTimeAsync(400);
    b.add('late', 'file'); // 400 ms after the others: still the same batch
    await vi.advanceTimersByTimeAsync(500);
    expect(ready).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(150);
    expect(ready).toHaveBeenCalledTimes(1);
    expect(b.size).toBe(61);
    b.close();
  });

  it('goes at the latest maxWaitMs after the first change of a repo that never settles', async () => {
    const ready = vi.fn();
    const b = new Batcher(OPTS, ready);
    for (let t = 0; t < 4_950; t += 50) {
      b.add(`f${t % 7}`, 'file');
      await vi.advanceTimersByTimeAsync(50);
    }
    expect(ready).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(100);
    expect(ready).toHaveBeenCalledTimes(1);
    b.close();
  });

  it('holds the batch while git holds its index lock, however long the checkout takes, up to holdMaxMs', async () => {
    const ready = vi.fn();
    let locked = true;
    const b = new Batcher({ ...OPTS, hold: () => locked }, ready);
    for (let t = 0; t < 20_000; t += 500) {
      b.add(`f${t}`, 'file');
      await vi.advanceTimersByTimeAsync(500);
    }
    expect(ready).not.toHaveBeenCalled();
    locked = false;
    await vi.advanceTimersByTimeAsync(700);
    expect(ready).toHaveBeenCalledTimes(1);
    b.take();

    // A lock that never goes (a crashed git) delays a batch by holdMaxMs at most.
    locked = true;
    b.add('x', 'file');
    await vi.advanceTimersByTimeAsync(59_000);
    expect(ready).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1_200);
    expect(ready).toHaveBeenCalledTimes(2);
    b.close();
  });

  it('sends a checkout it waited for right after git lets go of the lock, with only the short quiet period', async () => {
    const ready = vi.fn();
    let locked = true;
    const b = new Batcher({ ...OPTS, hold: () => locked }, ready);
    for (let i = 0; i < 600; i++) b.add(`f${i}`, 'file');
    await vi.advanceTimersByTimeAsync(1_000);
    locked = false;
    b.add('last', 'file'); // the watcher's last event, as git lets go
    await vi.advanceTimersByTimeAsync(250);
    expect(ready).toHaveBeenCalledTimes(1);
    expect(b.take().size).toBe(601);

    // A large batch that never waited for a lock still waits the long quiet period.
    for (let i = 0; i < 60; i++) b.add(`g${i}`, 'file');
    await vi.advanceTimersByTimeAsync(250);
    expect(ready).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(400);
    expect(ready).toHaveBeenCalledTimes(2);
    b.close();
  });

  it('keeps a failed batch pending (a folder event wins over a file event) and leaves no timer after close', async () => {
    const ready = vi.fn();
    const b = new Batcher(OPTS, ready);
    b.add('a', 'file');
    b.add('d', 'dir');
    const taken = b.take();
    b.add('a', 'dir');
    b.restore(taken);
    expect([...b.take()]).toEqual([
      ['a', 'dir'],
      ['d', 'dir'],
    ]);
    b.add('z', 'file');
    expect(b.armed).toBe(true);
    b.close();
    expect(b.armed).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
    b.add('after-close', 'file');
    expect(b.size).toBe(0);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(ready).not.toHaveBeenCalled();
  });
});
