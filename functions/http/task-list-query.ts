import { asSafeNumber, parseLongId } from '#core/ids';
import * as z from '#core/schema';
import type { TaskListQuery } from '#store/task-list';
import { invalidQuery, PAGING_PARAMETERS, pagingOf } from './paging.ts';

/**
 * Largest `size` of a listing: a page of tasks at their largest (task-limits.ts, MAX_REASON_LENGTH; about
 * 32 KB each as Lambda encodes the response, whose body is JSON in JSON) must fit Lambda's 6 MB response
 * limit. 100 such tasks take about 3.2 MB: half the limit, a margin for fields added later.
 */
export const MAX_PAGE_SIZE = 100;

const QueryParameters = z.object({
  hostId: z.optional(z.string()),
  status: z.optional(z.enum(['RUNNING', 'FAILED', 'SUCCESSFUL'])),
  name: z.optional(z.string().check(z.minLength(1), z.maxLength(128))),
  ...PAGING_PARAMETERS,
});

/** OCP's list query: `page` counts from 1 (default 1), `size` defaults to 10. */
export function parseTaskListQuery(parameters: Record<string, string | undefined> | undefined): {
  query: TaskListQuery;
  page: number;
} {
  const parsed = QueryParameters.safeParse(parameters ?? {});
  if (!parsed.success) invalidQuery(parsed.error.issues);
  const { hostId, status, name } = parsed.data;
  const { page, size } = pagingOf(parsed.data, MAX_PAGE_SIZE);
  const hostNumber = hostId === undefined ? undefined : asSafeNumber(parseLongId(hostId, 'hostId'));
  return {
    // A host id beyond JavaScript numbers names no stored task: an empty page, like any unknown host.
    query: {
      hostId: hostId === undefined ? undefined : (hostNumber ?? -1),
      status,
      name,
      page: page - 1,
      size,
    },
    page,
  };
}
