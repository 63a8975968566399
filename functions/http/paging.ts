import { InvalidArgument } from '#core/errors';
import * as z from '#core/schema';

/** OCP's `page` and `size` query parameters, as text: positive integers (their bounds checked after). */
const POSITIVE = z.string().check(z.regex(/^[1-9][0-9]{0,8}$/, 'must be a positive integer'));
export const PAGING_PARAMETERS = { page: z.optional(POSITIVE), size: z.optional(POSITIVE) };

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
