/**
 * The schema library of every Lambda input: the small part of zod/mini's API that the functions use,
 * with zod's parsing rules (key order, stripping, which problems stop later checks) and its English
 * messages. Its own code, because zod/mini added ~27 KB to each bundle (BENCHMARKS.md, issue 15);
 * the OpenAPI document still reaches zod's JSON Schema writer through functions/http/zod-mirror.ts.
 */

/** A JSON Schema fragment, as the OpenAPI document writes it. */
export type JsonSchema = Record<string, unknown>;

type Path = (string | number)[];

/** A problem found while parsing, as zod reports it: `path` leads from the parsed value to it. */
export interface Issue {
  code: string;
  path: Path;
  message: string;
  input?: unknown;
}

/** A problem a schema finds itself, before its message: what an `error` parameter is given. */
export type RawIssue =
  | { code: 'invalid_type'; expected: string; input: unknown }
  | { code: 'invalid_value'; values: readonly unknown[]; input: unknown }
  | { code: 'invalid_union'; input: unknown }
  | { code: 'invalid_format'; format: string; pattern?: RegExp; input: unknown }
  | { code: 'unrecognized_keys'; keys: string[]; input: unknown }
  | { code: 'too_small' | 'too_big'; origin: string; limit: number; inclusive: boolean; input: unknown }
  | { code: 'custom'; input: unknown };

type ErrorParam = string | ((issue: RawIssue) => string | undefined);
type Params = string | { error?: ErrorParam; message?: string };

/** An issue still being collected: `stops` marks a problem after which the schema's checks do not run. */
interface Found extends Issue {
  stops: boolean;
}

interface Result {
  value: unknown;
  issues: Found[];
}

type Parser = (def: SchemaDef, input: unknown) => Result;

export type SafeParseResult<T> = { success: true; data: T } | { success: false; error: SchemaError };

export class SchemaError extends Error {
  override readonly name = 'SchemaError';
  constructor(readonly issues: Issue[]) {
    super(issues.map((issue) => `${issue.path.join('.') || '(value)'}: ${issue.message}`).join('; '));
  }
}

/** What a check adds to the JSON Schema, for functions/http/zod-mirror.ts. */
export type CheckJson =
  | { kind: 'minLength' | 'maxLength' | 'gt' | 'gte' | 'lte'; value: number }
  | { kind: 'regex'; pattern: RegExp }
  | { kind: 'int' }
  | { kind: 'custom' };

/** A rule run on a value of the right type; `in` so that a check on a wider type fits a narrower schema. */
export interface Check<in T> {
  readonly checkJson: CheckJson;
  readonly run: (value: T, issues: Found[]) => void;
}

type Kind =
  | 'string'
  | 'number'
  | 'boolean'
  | 'unknown'
  | 'literal'
  | 'enum'
  | 'datetime'
  | 'object'
  | 'array'
  | 'tuple'
  | 'record'
  | 'union'
  | 'optional'
  | 'nullable'
  | 'nullish';

/** How a schema is built: read by the parser and by functions/http/zod-mirror.ts. */
export interface SchemaDef {
  kind: Kind;
  /** Each kind's parser is referenced only by its constructor, so a bundle keeps the kinds it builds. */
  parse: Parser;
  checks: readonly Check<never>[];
  error?: ErrorParam;
  values?: readonly unknown[];
  shape?: Shape;
  strict?: boolean;
  element?: AnySchema;
  items?: readonly AnySchema[];
  options?: readonly AnySchema[];
  inner?: AnySchema;
  /** JSON Schema keywords merged over what the schema's rules amount to (withJsonSchema). */
  declared?: JsonSchema;
}

export interface Schema<Out = unknown> {
  readonly def: SchemaDef;
  /** Whether an object may lack the key (zod's `optin`). */
  readonly optional: boolean;
  parse(input: unknown): Out;
  safeParse(input: unknown): SafeParseResult<Out>;
  /** This schema with more rules, each run in order on a value of the right type. */
  check(...checks: Check<Out>[]): this;
}

// biome-ignore lint/suspicious/noExplicitAny: the widest schema, as a constraint
type AnySchema = Schema<any>;
type Shape = Record<string, AnySchema>;

export type output<S> = S extends Schema<infer Out> ? Out : never;
export type infer<S> = output<S>;

interface OptionalSchema<Out> extends Schema<Out> {
  readonly optional: true;
}

type OptionalKeys<S extends Shape> = {
  [K in keyof S]: S[K] extends OptionalSchema<unknown> ? K : never;
}[keyof S];
type Flat<T> = { [K in keyof T]: T[K] } & {};
type ObjectOutput<S extends Shape> = [keyof S] extends [never]
  ? Record<string, never>
  : Flat<
      { [K in Exclude<keyof S, OptionalKeys<S>>]: output<S[K]> } & { [K in OptionalKeys<S>]?: output<S[K]> }
    >;

export interface ObjectSchema<S extends Shape = Shape> extends Schema<ObjectOutput<S>> {
  readonly shape: S;
}

class SchemaNode {
  readonly optional: boolean;
  constructor(readonly def: SchemaDef) {
    this.optional = def.kind === 'optional' || def.kind === 'nullish';
  }
  get shape() {
    return this.def.shape;
  }
  parse(input: unknown) {
    const { value, issues } = run(this, input);
    if (issues.length) throw new SchemaError(issues.map(finished));
    return value;
  }
  safeParse(input: unknown) {
    const { value, issues } = run(this, input);
    return issues.length
      ? { success: false as const, error: new SchemaError(issues.map(finished)) }
      : { success: true as const, data: value };
  }
  check(...checks: Check<never>[]) {
    return new SchemaNode({ ...this.def, checks: [...this.def.checks, ...checks] });
  }
}

const finished = ({ stops: _, ...issue }: Found): Issue => issue;

const node = <S>(def: Omit<SchemaDef, 'checks'> & { checks?: SchemaDef['checks'] }) =>
  new SchemaNode({ checks: [], ...def }) as unknown as S;

const errorOf = (params: Params | undefined): ErrorParam | undefined =>
  typeof params === 'string' ? params : (params?.error ?? params?.message);

// ---- parsing

const stops = (issues: readonly Found[]) => issues.some((issue) => issue.stops);

function run(schema: AnySchema, input: unknown): Result {
  const { def } = schema;
  const result = def.parse(def, input);
  for (const check of def.checks) {
    if (stops(result.issues)) break;
    (check as Check<unknown>).run(result.value, result.issues);
  }
  return result;
}

/** An issue with its message: the `error` parameter given (a text, or a function of the issue), else zod's English. */
function found(error: ErrorParam | undefined, raw: RawIssue, stopsChecks: boolean): Found {
  const custom = typeof error === 'function' ? error(raw) : error;
  return {
    code: raw.code,
    path: [],
    message: custom ?? englishMessage(raw),
    input: raw.input,
    stops: stopsChecks,
  };
}

const ok = (value: unknown): Result => ({ value, issues: [] });
const acceptAny: Parser = (_def, input) => ok(input);
const refuse = (def: SchemaDef, raw: RawIssue): Result => ({
  value: raw.input,
  issues: [found(def.error, raw, true)],
});
const wrongType = (def: SchemaDef, expected: string, input: unknown) =>
  refuse(def, { code: 'invalid_type', expected, input });

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const prefixed = (key: string | number, issues: readonly Found[]) =>
  issues.map((issue) => ({ ...issue, path: [key, ...issue.path] }));

/** zod's default `z.iso.datetime()`: RFC 3339 in UTC (`Z`), seconds required, any fraction. */
const DATE = String.raw`(?:(?:\d\d[2468][048]|\d\d[13579][26]|\d\d0[48]|[02468][048]00|[13579][26]00)-02-29|\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\d|30)|(?:02)-(?:0[1-9]|1\d|2[0-8])))`;
const ISO_DATETIME = /* @__PURE__ */ new RegExp(
  String.raw`^${DATE}T(?:(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?(?:Z))$`,
);

const parseString: Parser = (def, input) =>
  typeof input === 'string' ? ok(input) : wrongType(def, 'string', input);
const parseNumber: Parser = (def, input) =>
  typeof input === 'number' && Number.isFinite(input) ? ok(input) : wrongType(def, 'number', input);
const parseBoolean: Parser = (def, input) =>
  typeof input === 'boolean' ? ok(input) : wrongType(def, 'boolean', input);
const parseValue: Parser = (def, input) =>
  def.values!.includes(input)
    ? ok(input)
    : refuse(def, { code: 'invalid_value', values: def.values!, input });
const parseArray: Parser = (def, input) =>
  Array.isArray(input) ? parseItems(input, () => def.element!) : wrongType(def, 'array', input);
const parseInner =
  (absent: (input: unknown) => boolean): Parser =>
  (def, input) =>
    absent(input) ? ok(input) : run(def.inner!, input);

const parseDatetime: Parser = (def, input) => {
  if (typeof input !== 'string') return wrongType(def, 'string', input);
  return ISO_DATETIME.test(input)
    ? ok(input)
    : refuse(def, { code: 'invalid_format', format: 'datetime', input });
};

const parseTuple: Parser = (def, input) => {
  if (!Array.isArray(input)) return wrongType(def, 'tuple', input);
  const items = def.items!;
  const result = parseItems(input.slice(0, items.length), (index) => items[index]!);
  if (input.length !== items.length) {
    const code = input.length > items.length ? 'too_big' : 'too_small';
    result.issues.push(
      found(def.error, { code, origin: 'array', limit: items.length, inclusive: true, input }, false),
    );
  }
  return result;
};

const parseRecord: Parser = (def, input) => {
  if (!isPlainObject(input)) return wrongType(def, 'record', input);
  const value: Record<string, unknown> = {};
  const issues: Found[] = [];
  for (const key of Object.keys(input)) {
    const entry = run(def.element!, input[key]);
    issues.push(...prefixed(key, entry.issues));
    value[key] = entry.value;
  }
  return { value, issues };
};

function parseItems(input: readonly unknown[], schemaAt: (index: number) => AnySchema): Result {
  const value: unknown[] = [];
  const issues: Found[] = [];
  input.forEach((item, index) => {
    const parsed = run(schemaAt(index), item);
    issues.push(...prefixed(index, parsed.issues));
    value.push(parsed.value);
  });
  return { value, issues };
}

const parseObject: Parser = (def, input) => {
  if (!isPlainObject(input)) return wrongType(def, 'object', input);
  const shape = def.shape!;
  const value: Record<string, unknown> = {};
  const issues: Found[] = [];
  for (const [key, field] of Object.entries(shape)) {
    const present = key in input;
    if (!present && field.optional) continue;
    const parsed = run(field, input[key]);
    issues.push(...prefixed(key, parsed.issues));
    if (!present) {
      if (!parsed.issues.length)
        issues.push({
          ...found(undefined, { code: 'invalid_type', expected: 'nonoptional', input: undefined }, true),
          path: [key],
        });
      continue;
    }
    value[key] = parsed.value;
  }
  if (def.strict) {
    const unknown = Object.keys(input).filter((key) => !Object.hasOwn(shape, key));
    // Like zod, unknown keys do not stop the object's own checks: the parse still fails.
    if (unknown.length)
      issues.push(found(def.error, { code: 'unrecognized_keys', keys: unknown, input }, false));
  }
  return { value, issues };
};

const parseUnion: Parser = (def, input) => {
  const results = def.options!.map((option) => run(option, input));
  const clean = results.find((result) => result.issues.length === 0);
  if (clean) return clean;
  const typeRight = results.filter((result) => !stops(result.issues));
  if (typeRight.length === 1) return typeRight[0]!;
  return refuse(def, { code: 'invalid_union', input });
};

// ---- zod's English messages (zod/v4/locales/en.js)

function receivedType(input: unknown): string {
  if (typeof input === 'number')
    return Number.isNaN(input) ? 'NaN' : Number.isFinite(input) ? 'number' : String(input);
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'array';
  if (typeof input === 'object' && Object.getPrototypeOf(input) !== Object.prototype && input.constructor)
    return input.constructor.name;
  return typeof input;
}

const quoted = (value: unknown) => (typeof value === 'string' ? `"${value}"` : String(value));
const SIZED: Record<string, string> = { string: 'characters', array: 'items' };

function englishMessage(issue: RawIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return `Invalid input: expected ${issue.expected}, received ${receivedType(issue.input)}`;
    case 'invalid_value':
      return issue.values.length === 1
        ? `Invalid input: expected ${quoted(issue.values[0])}`
        : `Invalid option: expected one of ${issue.values.map(quoted).join('|')}`;
    case 'too_small':
    case 'too_big': {
      const [word, sign] = issue.code === 'too_small' ? ['Too small', '>'] : ['Too big', '<'];
      const bound = `${sign}${issue.inclusive ? '=' : ''}${issue.limit}`;
      const unit = SIZED[issue.origin];
      return unit
        ? `${word}: expected ${issue.origin} to have ${bound} ${unit}`
        : `${word}: expected ${issue.origin} to be ${bound}`;
    }
    case 'invalid_format':
      return issue.pattern ? `Invalid string: must match pattern ${issue.pattern}` : 'Invalid ISO datetime';
    case 'unrecognized_keys':
      return `Unrecognized key${issue.keys.length > 1 ? 's' : ''}: ${issue.keys.map(quoted).join(', ')}`;
    default:
      return 'Invalid input';
  }
}

// ---- checks

const lengthOrigin = (value: unknown) =>
  typeof value === 'string' ? 'string' : Array.isArray(value) ? 'array' : 'unknown';

const lengthCheck =
  (kind: 'minLength' | 'maxLength') =>
  (limit: number, params?: Params): Check<string | readonly unknown[]> => ({
    checkJson: { kind, value: limit },
    run(value, issues) {
      const short = kind === 'minLength' ? value.length < limit : value.length > limit;
      if (short)
        issues.push(
          found(
            errorOf(params),
            {
              code: kind === 'minLength' ? 'too_small' : 'too_big',
              origin: lengthOrigin(value),
              limit,
              inclusive: true,
              input: value,
            },
            false,
          ),
        );
    },
  });

export const minLength = lengthCheck('minLength');
export const maxLength = lengthCheck('maxLength');

const bound =
  (kind: 'gt' | 'gte' | 'lte') =>
  (limit: number, params?: Params): Check<number> => ({
    checkJson: { kind, value: limit },
    run(value, issues) {
      const inside = kind === 'gt' ? value > limit : kind === 'gte' ? value >= limit : value <= limit;
      if (!inside)
        issues.push(
          found(
            errorOf(params),
            {
              code: kind === 'lte' ? 'too_big' : 'too_small',
              origin: 'number',
              limit,
              inclusive: kind !== 'gt',
              input: value,
            },
            false,
          ),
        );
    },
  });

export const minimum = bound('gte');
export const maximum = bound('lte');
export const lte = maximum;
export const positive = (params?: Params) => bound('gt')(0, params);
export const nonnegative = (params?: Params) => minimum(0, params);

export const regex = (pattern: RegExp, params?: Params): Check<string> => ({
  checkJson: { kind: 'regex', pattern },
  run(value, issues) {
    pattern.lastIndex = 0;
    if (!pattern.test(value))
      issues.push(
        found(errorOf(params), { code: 'invalid_format', format: 'regex', pattern, input: value }, false),
      );
  },
});

export const refine = <T>(accepts: (value: T) => boolean, params?: Params): Check<T> => ({
  checkJson: { kind: 'custom' },
  run(value, issues) {
    if (!accepts(value)) issues.push(found(errorOf(params), { code: 'custom', input: value }, false));
  },
});

export interface RefinementContext {
  addIssue(issue: { code: 'custom'; message: string; input?: unknown; path?: Path }): void;
}

export const superRefine = <T>(find: (value: T, context: RefinementContext) => void): Check<T> => ({
  checkJson: { kind: 'custom' },
  run(value, issues) {
    find(value, {
      addIssue: ({ message, input, path }) =>
        issues.push({ code: 'custom', path: path ?? [], message, input, stops: false }),
    });
  },
});

/** zod's safe-integer rule: a fraction is the wrong type (later checks do not run), beyond 2^53 − 1 too big. */
const INT_CHECK: Check<number> = {
  checkJson: { kind: 'int' },
  run(value, issues) {
    if (!Number.isInteger(value))
      issues.push(found(undefined, { code: 'invalid_type', expected: 'int', input: value }, true));
    else if (!Number.isSafeInteger(value)) {
      const big = value > 0;
      issues.push(
        found(
          undefined,
          {
            code: big ? 'too_big' : 'too_small',
            origin: 'int',
            limit: big ? Number.MAX_SAFE_INTEGER : Number.MIN_SAFE_INTEGER,
            inclusive: true,
            input: value,
          },
          false,
        ),
      );
    }
  },
};

// ---- schemas

export const string = (params?: Params) =>
  node<Schema<string>>({ kind: 'string', parse: parseString, error: errorOf(params) });
export const number = (params?: Params) =>
  node<Schema<number>>({ kind: 'number', parse: parseNumber, error: errorOf(params) });
export const boolean = (params?: Params) =>
  node<Schema<boolean>>({ kind: 'boolean', parse: parseBoolean, error: errorOf(params) });
export const unknown = () => node<Schema<unknown>>({ kind: 'unknown', parse: acceptAny });

/** An integer within ±(2^53 − 1): a schema of its own, or a check on a number. */
export function int(params?: Params): Schema<number> & Check<number> {
  const schema = node<Schema<number>>({
    kind: 'number',
    parse: parseNumber,
    error: errorOf(params),
    checks: [INT_CHECK],
  });
  return Object.assign(schema, INT_CHECK);
}

export const literal = <const T extends string | number | boolean>(value: T, params?: Params) =>
  node<Schema<T>>({ kind: 'literal', parse: parseValue, values: [value], error: errorOf(params) });

function enumOf<const T extends readonly string[]>(values: T, params?: Params) {
  return node<Schema<T[number]>>({ kind: 'enum', parse: parseValue, values, error: errorOf(params) });
}

export { enumOf as enum };

export const iso = { datetime: () => node<Schema<string>>({ kind: 'datetime', parse: parseDatetime }) };

export const object = <S extends Shape>(shape: S, params?: Params) =>
  node<ObjectSchema<S>>({ kind: 'object', parse: parseObject, shape, error: errorOf(params) });
export const strictObject = <S extends Shape>(shape: S, params?: Params) =>
  node<ObjectSchema<S>>({ kind: 'object', parse: parseObject, shape, strict: true, error: errorOf(params) });

export const array = <T extends AnySchema>(element: T, params?: Params) =>
  node<Schema<output<T>[]>>({ kind: 'array', parse: parseArray, element, error: errorOf(params) });

export const tuple = <const T extends readonly AnySchema[]>(items: T, params?: Params) =>
  node<Schema<{ -readonly [K in keyof T]: output<T[K]> }>>({
    kind: 'tuple',
    parse: parseTuple,
    items,
    error: errorOf(params),
  });

/** An object of any keys (`key` says they are strings), each value by `value`. */
export const record = <V extends AnySchema>(_key: Schema<string>, value: V, params?: Params) =>
  node<Schema<Record<string, output<V>>>>({
    kind: 'record',
    parse: parseRecord,
    element: value,
    error: errorOf(params),
  });

export const union = <const T extends readonly AnySchema[]>(options: T, params?: Params) =>
  node<Schema<output<T[number]>>>({ kind: 'union', parse: parseUnion, options, error: errorOf(params) });

export const optional = <T extends AnySchema>(inner: T) =>
  node<OptionalSchema<output<T> | undefined>>({
    kind: 'optional',
    parse: parseInner((input) => input === undefined),
    inner,
  });
export const nullable = <T extends AnySchema>(inner: T) =>
  node<Schema<output<T> | null>>({ kind: 'nullable', parse: parseInner((input) => input === null), inner });
export const nullish = <T extends AnySchema>(inner: T) =>
  node<OptionalSchema<output<T> | null | undefined>>({
    kind: 'nullish',
    parse: parseInner((input) => input == null),
    inner,
  });

/**
 * The schema, with the JSON Schema its refinements amount to declared beside it: the OpenAPI document
 * merges these keywords over what the schema's rules say (a keyword set to undefined is removed).
 */
export function withJsonSchema<T extends AnySchema>(schema: T, jsonSchema: JsonSchema): T {
  return new SchemaNode({ ...schema.def, declared: jsonSchema }) as unknown as T;
}
