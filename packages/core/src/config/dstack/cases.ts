// Cases ported from dstack's own test suite (dstackai/dstack src/tests/_internal/...), written as data:
// each row names the dstack test it comes from, the configuration that test's input becomes in a
// `.dstack.yml`, and what dstack makes of it (a value, or a refusal). Where dstack-ts departs on
// purpose, the row asserts what dstack-ts does and /work/notes/config-departures.md says why.
import { expect, it } from 'vitest';
import { parseConfiguration } from '../parse';
import type { Configuration, ConfigurationType } from '../types';

interface Row {
  /** `test_file.py::Class::test_name[param]`. */
  from: string;
  /** The configuration's body, below its `type:` line. */
  yaml: string;
  type?: ConfigurationType;
}

export interface Accepts<C = Configuration> extends Row {
  get: (c: C) => unknown;
  want: unknown;
}

export interface Refuses extends Row {
  error: RegExp;
  /** The value as written, which the message must quote. */
  quote?: string;
}

function parse(row: Row) {
  return parseConfiguration('dstack.yml', `type: ${row.type ?? 'dev-environment'}\n${row.yaml}\n`);
}

export function accepts<C = Configuration>(rows: Accepts<C>[]): void {
  it.each(rows.map((r) => [r.from, r] as const))('%s', (_, row) => {
    const r = parse(row);
    if (!r.ok) expect.fail(`expected ${JSON.stringify(row.yaml)} to be accepted, got: ${r.errors.map((e) => e.message).join('; ')}`);
    expect(row.get(r.config as C)).toEqual(row.want);
  });
}

export function refuses(rows: Refuses[]): void {
  it.each(rows.map((r) => [r.from, r] as const))('%s', (_, row) => {
    const r = parse(row);
    if (r.ok) expect.fail(`expected ${JSON.stringify(row.yaml)} to be refused, got ${JSON.stringify(r.config)}`);
    const messages = r.errors.map((e) => e.message).join('\n');
    expect(messages).toMatch(row.error);
    if (row.quote !== undefined) expect(r.errors.find((e) => row.error.test(e.message))!.message).toContain(row.quote);
  });
}
