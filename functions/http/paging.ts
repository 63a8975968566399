import { InvalidArgument } from '#core/errors';
import * as z from '#core/schema';

/** OCP's `page` and `size` query parameters, as text: positive integers (`size`'s bound checked after, to say so). */
const POSITIVE = z.string().check(z.regex(/^[1-9][0-9]{0,8}$/, 'must be a positive integer'));

/** The decimal integers 1..max, as the OpenAPI document states `size` (both listings allow 100). */
const SIZE_PATTERNS: Readonly<Record<number, string>> = { 100: '^([1-9][0-9]?|100)$' };

export function pagingParameters(maxSize: number) {
  return {
    page: z.optional(POSITIVE),
    size: z.optional(
      z.withJsonSchema(POSITIVE, {
        pattern: sizePattern(maxSize),
        description: `A positive integer, at most ${maxSize}; 10 when absent.`,
      }),
    ),
  };
}

/** The first issue of a refused query as OCP's 400, naming the parameter. */
export function invalidQuery(issues: readonly { path: readonly PropertyKey[]; message: string }[]): never {
  const issue = issues[0];
  const field = String(issue?.path[0] ?? 'query');
  throw new InvalidArgument(`Invalid query parameter ${field}: ${issue?.message ?? 'invalid'}.`, field);
}

/** OCP's paging: `page` counts from 1 (default 1), `size` defaults to 10 and is at most `maxSize`. */
export function pagingOf(parameters: { page?: string; size?: string }, maxSize: number) {
  const page = Number(parameters.page ?? 1);
  const size = Number(parameters.size ?? 10);
  if (size > maxSize) throw new InvalidArgument(`size must be at most ${maxSize}.`, 'size');
  return { page, size };
}

function sizePattern(maxSize: number): string {
  const pattern = SIZE_PATTERNS[maxSize];
  if (!pattern) throw new RangeError(`No size pattern for at most ${maxSize}: add one to SIZE_PATTERNS`);
  return pattern;
}
