// `dstack schema`: the JSON Schema (draft-07) of what may be written in a `.dstack.yml`, for editors
// (yaml-language-server). Generated from the same zod schemas the parser uses; the grammar fields
// carry their own JSON Schema and descriptions.
import { z } from 'zod';
import { devEnvironmentSchema } from './dev-environment';
import { fleetSchema } from './fleet';
import type { ConfigurationType } from './types';

const SCHEMAS: Record<ConfigurationType, () => z.ZodType> = {
  'dev-environment': devEnvironmentSchema,
  fleet: fleetSchema,
};

function schemaOf(type: ConfigurationType): Record<string, unknown> {
  const json = z.toJSONSchema(SCHEMAS[type](), { io: 'input', target: 'draft-7', unrepresentable: 'any' }) as Record<string, unknown>;
  delete json.$schema;
  json.title = `dstack ${type} configuration`;
  return hoistDescriptions(json) as Record<string, unknown>;
}

/**
 * An optional field comes out as anyOf [the field, null] with its description inside the first
 * branch; editors show a field's own description on hover, so move it up.
 */
function hoistDescriptions(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(hoistDescriptions);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) out[k] = hoistDescriptions(v);
  const branches = out.anyOf as Record<string, unknown>[] | undefined;
  if (Array.isArray(branches) && out.description === undefined) {
    const described = branches.find((b) => typeof b.description === 'string');
    if (described) {
      out.description = described.description;
      delete described.description;
    }
  }
  return out;
}

/** The schema of one configuration type, or of both (chosen by `type`) when no type is given. */
export function configurationJsonSchema(type?: ConfigurationType): Record<string, unknown> {
  const header = { $schema: 'http://json-schema.org/draft-07/schema#' };
  if (type) return { ...header, ...schemaOf(type) };
  const types = Object.keys(SCHEMAS) as ConfigurationType[];
  return {
    ...header,
    title: 'dstack configuration (.dstack.yml)',
    type: 'object',
    required: ['type'],
    properties: { type: { enum: types, description: 'The kind of configuration' } },
    // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then keywords
    allOf: types.map((t) => ({ if: { properties: { type: { const: t } } }, then: schemaOf(t) })),
  };
}
