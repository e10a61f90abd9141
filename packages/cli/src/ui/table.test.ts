import { describe, expect, it } from 'vitest';
import { renderTable, wrapList } from './table';

describe('renderTable', () => {
  it('lays out columns like dstack: one leading space, two between, trailing spaces trimmed', () => {
    const text = renderTable(
      ['#', 'NAME', 'X'],
      [
        ['1', 'a', ''],
        ['10', 'longer', 'z'],
      ],
    );
    expect(text).toBe(' #   NAME    X\n 1   a\n 10  longer  z\n');
  });

  it('grows a row to its tallest cell', () => {
    const text = renderTable(['A', 'B', 'C'], [['x', 'one\ntwo', 'y\nz\nw']]);
    expect(text).toBe(' A  B    C\n x  one  y\n    two  z\n         w\n');
  });

  it('can leave the header out and shows empty cells for null and undefined', () => {
    expect(
      renderTable(
        ['A', 'B'],
        [
          [null, 'b'],
          [undefined, 3],
        ],
        { header: false },
      ),
    ).toBe('   b\n   3\n');
  });

  it('ignores colour escapes when measuring', () => {
    expect(renderTable(['A', 'B'], [['\x1b[1mx\x1b[0m', 'y']])).toBe(' A  B\n \x1b[1mx\x1b[0m  y\n');
  });
});

describe('wrapList', () => {
  it('breaks after commas, no wider than the widest item', () => {
    expect(wrapList('2xCPU, 8GB, 100.0GB (disk)')).toBe('2xCPU, 8GB,\n100.0GB (disk)');
    expect(wrapList('9xCPU, 48GB, A5000:24GB, 100.0GB (disk)')).toBe('9xCPU, 48GB,\nA5000:24GB,\n100.0GB (disk)');
  });

  it('keeps a short list on one line and honours an explicit width', () => {
    expect(wrapList('2xCPU, 8GB')).toBe('2xCPU,\n8GB');
    expect(wrapList('2xCPU, 8GB', 20)).toBe('2xCPU, 8GB');
    expect(wrapList('')).toBe('');
  });
});
