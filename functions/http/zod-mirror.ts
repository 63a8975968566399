/**
 * The same schemas built in zod/mini, for zod's JSON Schema writer: the OpenAPI document is written
 * from them (openapi.ts) while the functions parse with functions/core/schema.ts and never bundle zod.
 * Custom checks (refine, superRefine) say nothing JSON Schema can; their schemas declare it instead.
 */

import * as zod from 'zod/mini';
import type { CheckJson, JsonSchema, Schema, SchemaDef } from '#core/schema';

type ZodSchema = zod.ZodMiniType;

const mirrors = new WeakMap<SchemaDef, ZodSchema>();
const declared = new WeakMap<object, JsonSchema>();

/** The zod schema that says what `schema` says: one per schema, so registries and $refs see one identity. */
export function zodMirror(schema: Schema): ZodSchema {
  let mirror = mirrors.get(schema.def);
  if (!mirror) {
    mirror = build(schema.def);
    if (schema.def.declared) declared.set(mirror, schema.def.declared);
    mirrors.set(schema.def, mirror);
  }
  return mirror;
}

/** The JSON Schema a mirror's schema declares beside its rules (withJsonSchema). */
export const declaredJsonSchema = (mirror: object) => declared.get(mirror);

/** zod's check for each check of ours; custom ones (refine, superRefine) have none. */
function zodCheck(json: CheckJson): zod.core.$ZodCheck<never> | undefined {
  if (json.kind === 'regex') return zod.regex(json.pattern);
  if (json.kind === 'int') return zod.int();
  if (json.kind === 'custom') return undefined;
  return { minLength: zod.minLength, maxLength: zod.maxLength, gt: zod.gt, gte: zod.gte, lte: zod.lte }[
    json.kind
  ](json.value);
}

function build(def: SchemaDef): ZodSchema {
  const typed = typeOf(def);
  const checks = def.checks.flatMap((check) => zodCheck(check.checkJson) ?? []);
  return checks.length ? (typed.check(...(checks as zod.core.$ZodCheck<unknown>[])) as ZodSchema) : typed;
}

function typeOf(def: SchemaDef): ZodSchema {
  const inner = () => zodMirror(def.inner!);
  switch (def.kind) {
    case 'string':
      return zod.string();
    case 'number':
      return zod.number();
    case 'boolean':
      return zod.boolean();
    case 'unknown':
      return zod.unknown();
    case 'literal':
      return zod.literal(def.values![0] as string);
    case 'enum':
      return zod.enum(def.values as string[]);
    case 'datetime':
      return zod.iso.datetime();
    case 'object': {
      const shape = Object.fromEntries(
        Object.entries(def.shape!).map(([key, field]) => [key, zodMirror(field)]),
      );
      return def.strict ? zod.strictObject(shape) : zod.object(shape);
    }
    case 'array':
      return zod.array(zodMirror(def.element!));
    case 'tuple':
      return zod.tuple(def.items!.map(zodMirror) as [ZodSchema]);
    case 'record':
      return zod.record(zod.string(), zodMirror(def.element!));
    case 'union':
      return zod.union(def.options!.map(zodMirror));
    case 'optional':
      return zod.optional(inner());
    case 'nullable':
      return zod.nullable(inner());
    case 'nullish':
      return zod.nullish(inner());
  }
}
