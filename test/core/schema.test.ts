import { describe, expect, it } from 'vitest';
import * as zod from 'zod/mini';
import en from 'zod/v4/locales/en.js';
import * as z from '#core/schema';

zod.config(en());

/**
 * functions/core/schema.ts follows zod's rules: each case builds one schema in both libraries from
 * the same code and parses the same inputs, and both must agree on the value and on every issue.
 */
type Library = typeof z;
// biome-ignore lint/suspicious/noExplicitAny: one builder drives both libraries' (differently typed) APIs
const both = (build: (library: any) => unknown) => ({
  ours: build(z) as z.Schema,
  zods: build(zod) as zod.ZodMiniType,
});

const CASES: Record<string, { build: (library: Library) => unknown; inputs: unknown[] }> = {
  'string with lengths': {
    build: (l) => l.string().check(l.minLength(1), l.maxLength(3)),
    inputs: ['', 'ab', 'abcd', 7, null, undefined, ['a']],
  },
  'regex with and without a message': {
    build: (l) =>
      l.object({
        plain: l.optional(l.string().check(l.regex(/^a+$/))),
        told: l.optional(l.string().check(l.regex(/^[1-9]$/, 'must be a digit'))),
      }),
    inputs: [{}, { plain: 'aa' }, { plain: 'b' }, { told: '0' }, { told: 'x', plain: 'y' }],
  },
  'number, int and bounds': {
    build: (l) => l.number().check(l.int(), l.positive(), l.lte(10)),
    inputs: [1, 0, -1, 1.5, 11, 2 ** 53, Number.NaN, Number.POSITIVE_INFINITY, '1', null],
  },
  'int schema with minimum and maximum': {
    build: (l) => l.int().check(l.minimum(0), l.maximum(4)),
    inputs: [0, 4, 5, -1, 0.5, -(2 ** 60), true],
  },
  'nonnegative number': { build: (l) => l.number().check(l.nonnegative()), inputs: [0, -0.5, 3] },
  'boolean, literal, enum, unknown': {
    build: (l) =>
      l.object({
        flag: l.boolean(),
        kind: l.literal('JAVA_TASK'),
        version: l.optional(l.literal(2)),
        status: l.enum(['RUNNING', 'FAILED']),
        extra: l.unknown(),
      }),
    inputs: [
      { flag: true, kind: 'JAVA_TASK', status: 'FAILED', extra: 1 },
      { flag: 'true', kind: 'JAVA_TASK', status: 'FAILED', extra: null },
      { flag: false, kind: 'OTHER', status: 'DONE', extra: [], version: 3 },
      { flag: false, kind: 'JAVA_TASK', status: 'RUNNING' },
      { flag: false, kind: 'JAVA_TASK', status: 'RUNNING', extra: undefined },
    ],
  },
  'object strips, strict object refuses unknown keys': {
    build: (l) =>
      l.object({
        loose: l.object({ a: l.string() }),
        strict: l.optional(l.strictObject({ a: l.optional(l.number()) })),
      }),
    inputs: [
      { loose: { a: 'x', b: 1 }, c: 2 },
      { loose: { a: 'x' }, strict: { a: 1, b: 2, c: 3 } },
      { loose: { a: 'x' }, strict: { b: 2 } },
      { loose: { a: 1 }, strict: { a: 'no', d: 1 } },
      { loose: [], strict: null },
      { strict: {} },
      [],
      null,
      'text',
      new Date(0),
    ],
  },
  'optional, nullable, nullish': {
    build: (l) =>
      l.strictObject({
        a: l.optional(l.string()),
        b: l.nullable(l.int()),
        c: l.nullish(l.boolean()),
      }),
    inputs: [
      { b: null },
      { a: undefined, b: 1, c: null },
      { a: null, b: undefined, c: 0 },
      { a: 'x', b: 1.5 },
    ],
  },
  'arrays and tuples': {
    build: (l) =>
      l.object({
        list: l.array(l.int().check(l.positive())).check(l.minLength(1)),
        none: l.optional(l.tuple([])),
      }),
    inputs: [{ list: [1, 2] }, { list: [] }, { list: [1, -2, 'x'] }, { list: 'x' }, { list: [1], none: [1] }],
  },
  records: {
    build: (l) => l.record(l.string(), l.array(l.string())),
    inputs: [{}, { a: ['x'] }, { a: 'x', b: [1] }, ['a'], null],
  },
  unions: {
    build: (l) => l.union([l.number().check(l.int()), l.string().check(l.minLength(2))]),
    inputs: [1, 'ab', 'a', 1.5, true, null],
  },
  'union whose one option fails only a check': {
    build: (l) => l.union([l.string().check(l.maxLength(1)), l.boolean()]),
    inputs: ['ab', true, 3],
  },
  'iso datetime': {
    build: (l) => l.nullish(l.object({ before: l.optional(l.iso.datetime()) })),
    inputs: [
      undefined,
      null,
      {},
      { before: '2026-12-03T10:00:00Z' },
      { before: '2026-12-03T10:00:00.123Z' },
      { before: '2026-12-03T10:00Z' },
      { before: '2026-12-03T10:00:00+01:00' },
      { before: '2026-02-30T10:00:00Z' },
      { before: 5 },
    ],
  },
  'error parameters': {
    build: (l) =>
      l.strictObject(
        {
          id: l.number({ error: (issue: { input: unknown }) => `not a number: ${String(issue.input)}` }),
          limit: l.optional(l.union([l.number(), l.string()], { error: () => 'a count or a percentage' })),
          on: l.optional(l.boolean({ error: () => 'true or false' })),
        },
        {
          error: (issue: { code: string }) =>
            issue.code === 'unrecognized_keys' ? 'has unknown fields' : 'must be an object',
        },
      ),
    inputs: [{ id: 1 }, { id: 'x' }, { id: 1, limit: true }, { id: 1, on: 'yes' }, { id: 1, x: 1 }, 'body'],
  },
  'refinements after the type': {
    build: (l) =>
      l.object({ a: l.optional(l.int()), b: l.optional(l.int()) }).check(
        l.refine((value: { a?: number }) => value.a !== 13, 'must not be 13'),
        l.superRefine((value: { a?: number; b?: number }, context: z.RefinementContext) => {
          if (value.a === undefined && value.b === undefined)
            context.addIssue({ code: 'custom', message: 'is required', path: ['a'], input: value });
        }),
      ),
    inputs: [{ a: 1 }, { a: 13 }, {}, { a: 'x' }, { a: 13, b: 1, c: 1 }],
  },
};

const comparable = (issues: readonly { code: string; path: PropertyKey[]; message: string }[]) =>
  issues.map(({ code, path, message }) => ({ code, path, message }));

describe('schemas parse as zod does', () => {
  for (const [name, { build, inputs }] of Object.entries(CASES)) {
    it(name, () => {
      const { ours, zods } = both(build);
      for (const input of inputs) {
        const mine = ours.safeParse(input);
        const theirs = zods.safeParse(input);
        const label = JSON.stringify(input) ?? String(input);
        expect(mine.success, label).toBe(theirs.success);
        if (mine.success && theirs.success) expect(mine.data, label).toEqual(theirs.data);
        if (!mine.success && !theirs.success)
          expect(comparable(mine.error.issues), label).toEqual(comparable(theirs.error.issues));
      }
    });
  }

  it('keeps an absent optional key absent and a present undefined one present', () => {
    const schema = z.object({ a: z.optional(z.string()) });
    expect(Object.keys(schema.parse({}))).toEqual([]);
    expect(Object.keys(schema.parse({ a: undefined }))).toEqual(['a']);
  });

  it('throws a SchemaError naming each issue by its path', () => {
    const schema = z.object({ task: z.object({ id: z.int() }) });
    expect(() => schema.parse({ task: { id: 'x' } })).toThrow(
      expect.objectContaining({
        name: 'SchemaError',
        message: expect.stringContaining('task.id: Invalid input'),
      }),
    );
    expect(() => z.string().parse(1)).toThrow('(value): Invalid input: expected string, received number');
  });

  it('adds checks to a copy: the schema checked stays as it was', () => {
    const text = z.string();
    const short = text.check(z.maxLength(1));
    expect(text.safeParse('abc').success).toBe(true);
    expect(short.safeParse('abc').success).toBe(false);
  });

  it('declares JSON Schema beside a schema without changing how it parses', () => {
    const id = z.withJsonSchema(z.int(), { minimum: 1 });
    expect(id.def.declared).toEqual({ minimum: 1 });
    expect(id.safeParse(0).success).toBe(true);
    expect(z.int().def.declared).toBeUndefined();
  });
});
