// `volumes:` beyond dstack's own cases (dstack/volumes.test.ts): what dstack-ts refuses at plan time
// (a mount over the container's root or /workflow, two mounts at one path, `type: volume`), and the
// helpers the daemon reads the entries with.
import { describe, expect, it } from 'vitest';
import { dev, parseErrors } from './test-helpers';
import { instanceMounts, mountText, networkVolumes } from './volumes';

const errorsOf = (body: string) => parseErrors(`type: dev-environment\n${body}`).map((e) => `${e.line}:${e.column}: ${e.message}`);

describe('volumes: refused paths, each named with its key and value quoted', () => {
  it.each<[string, RegExp]>([
    ['volumes: ["/a:/workflow"]', /^2:11: volumes\[0\]: invalid path "\/workflow": \/workflow holds the run's code/],
    ['volumes: ["/a:/workflow/data/"]', /invalid path "\/workflow\/data\/": \/workflow holds the run's code/],
    ['volumes: [{instance_path: /a, path: /workflow/x}]', /volumes\[0\]\.path: invalid path "\/workflow\/x"/],
    ['volumes: [vol:/workflow]', /invalid path "\/workflow"/],
    ['volumes: ["/a:/"]', /invalid path "\/": a volume cannot be mounted over the container's root/],
    ['volumes: ["/a:/./"]', /invalid path "\/.\/": a volume cannot be mounted over the container's root/],
    ['volumes: ["/a:/data", "/b:/data/"]', /volumes\[1\]: path "\/data" is already mounted by volumes\[0\]/],
    ['volumes: ["/a:/data", {name: v, path: /data}]', /volumes\[1\]: path "\/data" is already mounted by volumes\[0\]/],
    ['volumes: ["data/x:/x"]', /invalid instance_path "data\/x": path must be absolute/],
    ['volumes: [{instance_path: /a/../b, path: /x}]', /volumes\[0\]\.instance_path: invalid instance_path "\/a\/..\/b": `..` segments/],
  ])('%s', (body, want) => {
    expect(errorsOf(body).join('\n')).toMatch(want);
  });

  it('accepts a path that only starts like /workflow', () => {
    expect(dev('volumes: ["/a:/workflows"]').volumes).toEqual([{ instance_path: '/a', path: '/workflows', optional: false }]);
  });

  it('sends `type: volume` to apply and `dstack volume`: it is not a run', () => {
    const [e] = parseErrors('type: volume\nname: my-vol\nbackend: aws\nsize: 100GB\n');
    expect(`${e.line}:${e.column}: ${e.message}`).toBe(
      '1:7: `type: volume` is a network volume, not a run: `dstack apply -f FILE` makes it (volume.ts), `dstack volume` lists and deletes it',
    );
  });
});

describe('volumes: the kinds, as the daemon reads them', () => {
  const c = dev(
    'volumes:\n  - my-vol:/data\n  - /mnt/cache:/cache\n  - {name: [a, b], path: /x}\n  - {instance_path: /y, path: /y, optional: true}',
  );

  it('tells instance volumes from network volumes', () => {
    expect(instanceMounts(c.volumes)).toEqual([
      { instance_path: '/mnt/cache', path: '/cache', optional: false },
      { instance_path: '/y', path: '/y', optional: true },
    ]);
    expect(networkVolumes(c.volumes)).toEqual([
      { name: ['my-vol'], path: '/data' },
      { name: ['a', 'b'], path: '/x' },
    ]);
  });

  it('writes each in the short form', () => {
    expect(c.volumes.map(mountText)).toEqual(['my-vol:/data', '/mnt/cache:/cache', '[a, b]:/x', '/y:/y (optional)']);
  });
});
