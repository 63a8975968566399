import { InvalidArgument } from '#core/errors';
import { asSafeNumber, parseLongId } from '#core/ids';
import * as z from '#core/schema';
import { BATCH_GET_KEYS } from '#store/bulk-items';
import { invalidQuery, pagingOf, pagingParameters } from './paging.ts';

/**
 * Largest `size` of a host listing, and most ids one `id` filter may name: the locks of a page's hosts,
 * and the hosts an `id` filter names, are each read in one BatchGetItem (at most 100 keys).
 */
export const MAX_HOST_PAGE_SIZE = BATCH_GET_KEYS;
export const MAX_HOST_IDS = BATCH_GET_KEYS;

export const HostListQueryParameters = z.object({
  // One or several ids: `id=1,2`, or `id=1&id=2`, which API Gateway hands over joined by commas.
  id: z.optional(z.string()),
  ...pagingParameters(MAX_HOST_PAGE_SIZE),
});

export interface HostListQuery {
  /** Only these hosts (each a safe integer; an id beyond that names no host and is left out). */
  hostIds?: number[];
  /** From 1. */
  page: number;
  size: number;
}

/** OCP's host list query: `page` from 1 (default 1), `size` (default 10), optional `id` filter. */
export function parseHostListQuery(
  parameters: Record<string, string | undefined> | undefined,
): HostListQuery {
  const parsed = HostListQueryParameters.safeParse(parameters ?? {});
  if (!parsed.success) invalidQuery(parsed.error.issues);
  const { page, size } = pagingOf(parsed.data, MAX_HOST_PAGE_SIZE);
  if (parsed.data.id === undefined) return { page, size };
  const ids = [...new Set(parsed.data.id.split(',').map((raw) => parseLongId(raw, 'id')))];
  if (ids.length > MAX_HOST_IDS)
    throw new InvalidArgument(`id may name at most ${MAX_HOST_IDS} hosts.`, 'id');
  return {
    hostIds: ids.map(asSafeNumber).filter((id): id is number => id !== undefined),
    page,
    size,
  };
}
