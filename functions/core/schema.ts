/**
 * The schema library of every Lambda input: zod's tree-shakable "mini" build, with the English
 * messages that classic zod sets by default. Classic zod bundled whole (~440 KB minified, most of it
 * locales) dominated each function's size and import time; mini adds ~20 KB (see BENCHMARKS.md).
 */
import { config, type core, registry } from 'zod/mini';
import en from 'zod/v4/locales/en.js';

config(en());

export * from 'zod/mini';

/** A JSON Schema fragment, as the OpenAPI document writes it. */
export type JsonSchema = Record<string, unknown>;

/**
 * JSON Schema declared beside a schema whose rules z.toJSONSchema cannot see (refinements, and checks
 * made after parsing): the OpenAPI document merges it over what z.toJSONSchema emits for that schema.
 */
export const declaredJsonSchemas = registry<JsonSchema>();

/** The schema, with the JSON Schema its refinements amount to declared beside it (declaredJsonSchemas). */
export function withJsonSchema<T extends core.$ZodType>(schema: T, jsonSchema: JsonSchema): T {
  declaredJsonSchemas.add(schema, jsonSchema);
  return schema;
}
