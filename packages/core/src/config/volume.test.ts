// `type: volume` files as dstack writes them (https://dstack.ai/docs/reference/dstack.yml/volume/):
// made (backend, region, size) or registered (volume_id); every problem at its line and column.
import { describe, expect, it } from 'vitest';
import { parseVolumeConfiguration } from './volume';

const errors = (text: string) => {
  const r = parseVolumeConfiguration('vol.dstack.yml', text);
  return r.ok ? [] : r.errors.map((e) => `${e.line}:${e.column}: ${e.message}`);
};

describe('type: volume', () => {
  it('reads a volume to make and one to register', () => {
    expect(parseVolumeConfiguration('f', 'type: volume\nname: my-vol\nbackend: runpod\nregion: EU-RO-1\nsize: 100GB\n')).toEqual({
      ok: true,
      config: { type: 'volume', name: 'my-vol', backend: 'runpod', region: 'EU-RO-1', sizeGb: 100, volumeId: '' },
    });
    expect(parseVolumeConfiguration('f', 'type: volume\nname: old\nbackend: runpod\nvolume_id: abc123\n')).toMatchObject({
      ok: true,
      config: { name: 'old', region: '', sizeGb: 0, volumeId: 'abc123' },
    });
    // dstack's sizes: a number is GB, 1TB is 1024GB; a fraction of a GB is rounded up.
    expect(parseVolumeConfiguration('f', 'type: volume\nname: vv\nbackend: lambda\nregion: us-east-1\nsize: 1TB\n')).toMatchObject({
      config: { sizeGb: 1024 },
    });
    expect(parseVolumeConfiguration('f', 'type: volume\nname: vv\nbackend: lambda\nregion: us-east-1\nsize: 1.5\n')).toMatchObject({
      config: { sizeGb: 2 },
    });
  });

  it('says what is missing or wrong, at its place', () => {
    expect(errors('type: volume\nname: my-vol\nbackend: runpod\n')).toEqual([
      '1:1: missing `region`: the runpod region (data center) to make the volume in',
      '1:1: missing `size` (e.g. `size: 100GB`), or `volume_id` of an existing volume',
    ]);
    expect(errors('type: volume\nname: My_Vol\nbackend: runpod\nregion: EU-RO-1\nsize: lots\nzone: a\n')).toEqual([
      '2:7: invalid volume name "My_Vol": lower-case letters, digits and -, starting with a letter (2 to 41)',
      expect.stringMatching(/^5:7: invalid size/),
      '6:1: unknown key `zone` in a volume configuration; allowed: type, name, backend, region, size, volume_id',
    ]);
    expect(errors('type: volume\nname: vv\nbackend: runpod\nvolume_id: x\nsize: 10GB\n')).toEqual([
      '5:7: `size` is for a volume to make: a registered one (`volume_id`) has its own',
    ]);
    expect(errors('type: volume\nname: vv\nbackend: aws\nregion: r\nsize: 1GB\navailability_zone: a\n')[0]).toMatch(
      /^6:1: `availability_zone` is for AWS and GCP volumes/,
    );
    expect(errors('type: volume\nname: vv\nbackend: runpod\nregion: r\nsize: 0.5GB\n')).toEqual([
      '5:7: a volume of "0.5GB" is too small: at least 1GB',
    ]);
    expect(errors('type: volume\nname: [\n')[0]).toMatch(/YAML syntax error/);
  });
});
