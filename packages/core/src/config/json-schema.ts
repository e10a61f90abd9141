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
  return json;
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
    allOf: types.map((t) => ({ if: { properties: { type: { const: t } } }, then: schemaOf(t) })),
  };
}
