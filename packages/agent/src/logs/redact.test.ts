import { describe, expect, it } from 'vitest';
import { logRedactor } from './redact';

const text = (b: Buffer) => b.toString('utf8');

describe('logRedactor', () => {
  it('masks every occurrence of every value in a line', () => {
    const r = logRedactor(['hf_abc123', 'p4ss']);
    expect(text(r(Buffer.from('token=hf_abc123 again hf_abc123, pw p4ss\n')))).toBe('token=*** again ***, pw ***\n');
    expect(text(r(Buffer.from('nothing here\n')))).toBe('nothing here\n');
  });

  it('masks a value that holds another whole', () => {
    const r = logRedactor(['abc', 'xxabcxx']);
    expect(text(r(Buffer.from('[xxabcxx] [abc]')))).toBe('[***] [***]');
  });

  it('masks a multi-line value line by line, and leaves values under 3 characters alone', () => {
    const r = logRedactor(['-----BEGIN KEY-----\r\nAAAABBBB\n-----END KEY-----', '1', 'ab']);
    expect(text(r(Buffer.from('AAAABBBB\n')))).toBe('***\n');
    expect(text(r(Buffer.from('-----END KEY-----\n')))).toBe('***\n');
    expect(text(r(Buffer.from('1 ab 12\n')))).toBe('1 ab 12\n');
  });

  it('is the identity with nothing to mask, and keeps bytes that are not UTF-8', () => {
    const line = Buffer.from([0xff, 0x00, 0x41, 0x0a]);
    expect(logRedactor([])(line)).toBe(line);
    expect([...logRedactor(['secret-ü'])(Buffer.concat([line, Buffer.from('secret-ü')]))]).toEqual([...line, ...Buffer.from('***')]);
  });
});
