import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { ConfigurationOverrides } from '@dstack/core/gen/daemon';
import { UsageError } from '../errors';
import { addOverrideOptions, addRunOptions, overridesOf, type RunFlags } from './overrides';

describe('overridesOf', () => {
  it('sends the flags as typed, empty where not given', () => {
    expect(overridesOf({ gpu: 'A100:80GB:2', maxPrice: '0.5', spot: true })).toEqual(
      ConfigurationOverrides.fromPartial({ gpu: 'A100:80GB:2', maxPrice: '0.5', spotPolicy: 'spot' }),
    );
    expect(overridesOf({}, 'auto').spotPolicy).toBe('auto');
    expect(overridesOf({ onDemand: true }, 'auto').spotPolicy).toBe('on-demand');
    expect(overridesOf({ spotPolicy: 'auto' }).spotPolicy).toBe('auto');
  });

  it("sends apply's run flags: name, lists in order, retry, durations, --reuse", () => {
    const o = overridesOf({
      name: 'other-name',
      backend: ['local', 'ssh'],
      region: ['us-east-1'],
      instanceType: ['gpu_1x_a10'],
      fleet: ['my-fleet'],
      retry: true,
      retryDuration: '2h',
      maxDuration: '30s',
      idleDuration: 'off',
      reuse: true,
    });
    expect(o).toMatchObject({
      name: 'other-name',
      backends: ['local', 'ssh'],
      regions: ['us-east-1'],
      instanceTypes: ['gpu_1x_a10'],
      fleets: ['my-fleet'],
      retry: true,
      retryDuration: '2h',
      maxDuration: '30s',
      idleDuration: 'off',
      creationPolicy: 'reuse',
    });
    expect(overridesOf({ retry: false }).retry).toBe(false);
    expect(overridesOf({}).retry).toBeUndefined();
    expect(overridesOf({ maxDuration: 'off' }).maxDuration).toBe('off');
  });

  it.each<[RunFlags, RegExp]>([
    [{ gpu: 'A100:80GB:2:3' }, /^--gpu "A100:80GB:2:3": /],
    [{ gpu: '' }, /^--gpu "": /],
    [{ memory: '16GB..8GB' }, /^--memory "16GB..8GB": /],
    [{ maxPrice: '0' }, /^--max-price "0": /],
    [{ spot: true, onDemand: true }, /exclude each other/],
    [{ spot: true, spotPolicy: 'auto' }, /exclude each other/],
    [{ spotPolicy: 'cheap' }, /^--spot-policy "cheap": use spot, on-demand or auto$/],
    [{ name: 'Other_Name' }, /^--name "Other_Name": use 2 to 41 lowercase letters/],
    [{ name: '' }, /^--name "": /],
    [{ backend: ['local', 'aws2'] }, /^--backend "aws2": not a backend: use one of .* \(did you mean `aws`\?\)$/],
    [{ backend: [''] }, /^--backend "": expected a name/],
    [{ region: ['us\neast'] }, /^--region "us\\neast": has a control character/],
    [{ instanceType: [' '] }, /^--instance-type " ": expected a name/],
    [{ fleet: ['proj/gpus'] }, /^--fleet "proj\/gpus": .*one project/],
    [{ fleet: ['My Fleet'] }, /^--fleet "My Fleet": invalid fleet name/],
    [{ maxDuration: '30x' }, /^--max-duration "30x": invalid duration "30x": use seconds or <n><s\|m\|h\|d\|w> .*, or off$/],
    [{ maxDuration: '-5' }, /^--max-duration "-5": /],
    [{ idleDuration: 'soon' }, /^--idle-duration "soon": invalid duration/],
    [{ retryDuration: 'off' }, /^--retry-duration "off": invalid duration/],
    [{ retry: false, retryDuration: '1h' }, /^--no-retry and --retry-duration exclude each other/],
  ])('refuses %j before the daemon is asked, as a usage error naming the flag', (flags, message) => {
    let err: unknown;
    try {
      overridesOf(flags);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(2);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).not.toContain('\n');
  });
});

describe('the flags on the command line', () => {
  const parse = (...args: string[]) => {
    const cmd = addRunOptions(addOverrideOptions(new Command('apply').exitOverride(), undefined, true));
    cmd.configureOutput({ writeErr: () => {} });
    cmd.parse(args, { from: 'user' });
    return cmd.opts<RunFlags & { profile?: string }>();
  };

  it("spells them as dstack's apply does, repeatable ones in order", () => {
    expect(
      parse('-n', 'x1', '-b', 'local', '--backend', 'ssh', '-r', 'a', '-r', 'b', '--fleet', 'f', '--instance-type', 't', '-R'),
    ).toEqual({
      name: 'x1',
      backend: ['local', 'ssh'],
      region: ['a', 'b'],
      fleet: ['f'],
      instanceType: ['t'],
      reuse: true,
    });
    expect(parse('--retry').retry).toBe(true);
    expect(parse('--no-retry').retry).toBe(false);
    expect(parse().retry).toBeUndefined();
    expect(parse('--profile', 'gpu', '--max-duration', '1h', '--idle-duration', '5m', '--retry-duration', '2h')).toEqual({
      profile: 'gpu',
      maxDuration: '1h',
      idleDuration: '5m',
      retryDuration: '2h',
    });
  });

  it('refuses flags that exclude each other, as dstack', () => {
    expect(() => parse('--spot', '--spot-policy', 'auto')).toThrow(/cannot be used with/);
    expect(() => parse('--reuse', '--idle-duration', '1h')).toThrow(/cannot be used with/);
  });

  it("groups apply's help as dstack's does", () => {
    const cmd = addRunOptions(addOverrideOptions(new Command('apply').option('-f, --file <FILE>'), undefined, true));
    const help = cmd.helpInformation();
    const headings = help.split('\n').filter((l) => /^\S.*:$/.test(l));
    expect(headings).toEqual(['Options:', 'Resources:', 'Profile:', 'Spot policy:', 'Fleets:', 'Retry policy:']);
    // offer shares the resource flags, ungrouped.
    expect(addOverrideOptions(new Command('offer')).helpInformation()).not.toContain('Resources:');
  });
});
