import { InvalidArgument } from './errors.ts';

const INT64_MAX = 9223372036854775807n;
const DECIMAL = /^[1-9][0-9]{0,18}$/;

/** An OCP "Long" id as parseLongId reads it, in JSON Schema (the pattern alone cannot bound it). */
export const LONG_ID_JSON_SCHEMA = {
  type: 'string',
  pattern: DECIMAL.source,
  description: `A positive 64-bit integer in plain decimal, at most ${INT64_MAX}.`,
};

/**
 * Parses an OCP "Long" id given in a path or body: a positive 64-bit integer in plain decimal.
 * Anything else (0, signs, fractions, exponents, leading zeros, whitespace, overflow) is refused.
 */
export function parseLongId(raw: unknown, field: string): bigint {
  if (typeof raw === 'string' && DECIMAL.test(raw)) {
    const value = BigInt(raw);
    if (value <= INT64_MAX) return value;
  }
  throw new InvalidArgument(
    `${field} must be a positive 64-bit integer in decimal, got ${describe(raw)}.`,
    field,
  );
}

/** Ids the product itself allocates fit a JavaScript number; larger ones cannot name a stored record. */
export function asSafeNumber(id: bigint): number | undefined {
  return id <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(id) : undefined;
}

function describe(raw: unknown): string {
  if (typeof raw !== 'string') return 'nothing';
  if (raw === '') return 'an empty value';
  const shown = raw.length > 40 ? `${raw.slice(0, 40)}…` : raw;
  return JSON.stringify(shown);
}
