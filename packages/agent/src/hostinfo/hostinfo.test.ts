// The host-info parsers on the outputs of a real GPU host (fixtures/ are copies of
// /work/shared/fixtures/hosts/h200-ubuntu2404: Ubuntu 24.04, one NVIDIA H200) and on the documented
// shapes of the AMD tools (no AMD host was available to record them; see the inline samples).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAmdSmi, parseRocmSmi } from './amd';
import { parseNvidiaSmi } from './nvidia';
import { parseMemTotal, parseOsRelease } from './os-release';
import { tpusFromDevices } from './tpu';

const fixture = (name: string) => readFileSync(join(__dirname, 'fixtures', name), 'utf8');

describe('nvidia-smi', () => {
  const h200 = {
    index: 0,
    vendor: 'nvidia',
    name: 'NVIDIA H200',
    memoryMib: 143771,
    uuid: 'GPU-0ef4acf2-6c8a-9f62-41ae-bab5a590b314',
    pciBusId: '00000000:00:06.0',
    computeCapability: '9.0',
    driverVersion: '580.159.04',
  };

  it('reads the noheader,nounits query of an H200 host', () => {
    expect(parseNvidiaSmi(fixture('nvidia-smi-query-noheader.csv'))).toEqual([h200]);
  });

  it('reads the same query with a header and units', () => {
    expect(parseNvidiaSmi(fixture('nvidia-smi-query.csv'))).toEqual([h200]);
  });

  it('reads several GPUs and treats [N/A] as unknown', () => {
    const text =
      '0, NVIDIA A100-SXM4-80GB, 81920, GPU-a, 00000000:07:00.0, 8.0, 535.1\n1, NVIDIA A100-SXM4-80GB, [N/A], GPU-b, 00000000:0F:00.0, [N/A], 535.1\n';
    const gpus = parseNvidiaSmi(text);
    expect(gpus.map((g) => [g.index, g.memoryMib, g.computeCapability])).toEqual([
      [0, 81920, '8.0'],
      [1, 0, ''],
    ]);
  });

  it('reads nothing from an error message', () => {
    expect(parseNvidiaSmi('NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver.\n')).toEqual([]);
  });
});

describe('os-release and meminfo', () => {
  it('takes PRETTY_NAME', () => {
    expect(parseOsRelease(fixture('os-release'))).toBe('Ubuntu 24.04.3 LTS');
  });

  it('falls back to NAME VERSION', () => {
    expect(parseOsRelease('NAME="Debian GNU/Linux"\nVERSION="12 (bookworm)"\n')).toBe('Debian GNU/Linux 12 (bookworm)');
  });

  it('reads MemTotal in bytes', () => {
    expect(parseMemTotal(fixture('meminfo.txt'))).toBe(131981020 * 1024);
  });
});

describe('AMD', () => {
  it('reads amd-smi static --json (ROCm 6.3 shape)', () => {
    const text = JSON.stringify({
      gpu_data: [
        {
          gpu: 0,
          asic: { market_name: 'AMD Instinct MI300X', target_graphics_version: 'gfx942', asic_serial: '0x1234' },
          bus: { bdf: '0000:0c:00.0' },
          vram: { size: { value: 196592, unit: 'MB' } },
          driver: { version: '6.8.5' },
        },
      ],
    });
    expect(parseAmdSmi(text)).toEqual([
      {
        index: 0,
        vendor: 'amd',
        name: 'AMD Instinct MI300X',
        memoryMib: 196592,
        uuid: '0x1234',
        pciBusId: '0000:0c:00.0',
        computeCapability: 'gfx942',
        driverVersion: '6.8.5',
      },
    ]);
  });

  it('reads rocm-smi --json, VRAM in bytes', () => {
    const text = JSON.stringify({
      card1: {
        'Card Series': 'AMD Instinct MI210',
        'VRAM Total Memory (B)': '68702699520',
        'PCI Bus': '0000:83:00.0',
        'GFX Version': 'gfx90a',
      },
      card0: {
        'Card Series': 'AMD Instinct MI210',
        'VRAM Total Memory (B)': '68702699520',
        'PCI Bus': '0000:03:00.0',
        'GFX Version': 'gfx90a',
      },
      system: { 'Driver version': '6.2.4' },
    });
    const gpus = parseRocmSmi(text);
    expect(gpus.map((g) => [g.index, g.name, g.memoryMib, g.pciBusId, g.driverVersion])).toEqual([
      [0, 'AMD Instinct MI210', 65520, '0000:03:00.0', '6.2.4'],
      [1, 'AMD Instinct MI210', 65520, '0000:83:00.0', '6.2.4'],
    ]);
  });
});

describe('TPU', () => {
  it('counts /dev/accel* devices in order', () => {
    const tpus = tpusFromDevices(['null', 'accel1', 'accel0', 'accelerator', 'nvidia0']);
    expect(tpus.map((t) => [t.index, t.vendor])).toEqual([
      [0, 'google'],
      [1, 'google'],
    ]);
  });

  it('finds none on the H200 host (its /dev has nvidia devices only)', () => {
    const names = fixture('dev-nvidia.txt')
      .split('\n')
      .map((l) => l.split(/\s+/).pop()!.replace('/dev/', ''));
    expect(tpusFromDevices(names)).toEqual([]);
  });
});
