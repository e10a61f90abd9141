import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { formatBytes } from '@dstack/core/bytes';
import { bar, LiveLine, ProgressView, progressText } from './progress';

function stream(tty: boolean) {
  const s = Object.assign(new PassThrough(), { isTTY: tty, columns: 100 });
  let text = '';
  s.on('data', (d: Buffer) => (text += d.toString()));
  return { s, text: () => text };
}

describe('progress text', () => {
  it('draws a bar and sizes', () => {
    expect(bar(0, 100, 10)).toBe('[----------]   0%');
    expect(bar(45, 100, 10)).toBe('[####------]  45%');
    expect(bar(200, 100, 10)).toBe('[##########] 100%');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(12_345_678)).toBe('12.3 MB');
    expect(progressText({ kind: 'pull', current: 50, total: 100, message: '' })).toMatch(
      /^Pulling image +\[#+-+\] {2}50% {2}50 B \/ 100 B$/,
    );
    expect(progressText({ kind: 'ide', current: 0, total: 0, message: 'fetching' })).toBe('Installing IDE server... fetching');
  });
});

describe('ProgressView', () => {
  it('prints plain start and end lines when not on a terminal', () => {
    const out = stream(false);
    const view = new ProgressView(new LiveLine(out.s));
    view.update({ kind: 'pull', current: 0, total: 1000, message: 'debian:bookworm' });
    view.update({ kind: 'pull', current: 500, total: 1000, message: '' });
    view.update({ kind: 'pull', current: 1000, total: 1000, message: '' });
    view.update({ kind: 'upload', current: 10, total: 20, message: '' });
    view.finish();
    expect(out.text()).toBe(
      'Pulling image... debian:bookworm\nPulling image: done (1.0 KB)\nUploading code...\nUploading code: done (20 B)\n',
    );
  });

  it('redraws one live line on a terminal and keeps each finished step', () => {
    const out = stream(true);
    const view = new ProgressView(new LiveLine(out.s));
    view.update({ kind: 'upload', current: 1, total: 4, message: '' });
    view.update({ kind: 'upload', current: 4, total: 4, message: '' });
    const text = out.text();
    expect(text.startsWith('\r\x1b[KUploading code')).toBe(true);
    expect(text).toContain(' 25%');
    expect(text.endsWith('100%  4 B / 4 B\n')).toBe(true);
  });
});

describe('LiveLine', () => {
  it('prints other output above the live line and draws it again', () => {
    const out = stream(true);
    const line = new LiveLine(out.s);
    line.set('working');
    line.print('a log line\n');
    expect(out.text()).toBe('\r\x1b[Kworking\r\x1b[Ka log line\nworking');
  });

  it('does nothing on a stream that is not a terminal', () => {
    const out = stream(false);
    const line = new LiveLine(out.s);
    line.set('working');
    line.clear();
    line.print('text\n');
    expect(out.text()).toBe('text\n');
  });
});
