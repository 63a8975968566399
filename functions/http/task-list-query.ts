import { asSafeNumber, LONG_ID_JSON_SCHEMA, parseLongId } from '#core/ids';
import * as z from '#core/schema';
import { TASK_STATUSES } from '#core/task';
import type { TaskListQuery } from '#store/task-list';
import { invalidQuery, pagingOf, pagingParameters } from './paging.ts';

/**
 * Largest `size` of a listing: a page of tasks at their largest (task-limits.ts, MAX_REASON_LENGTH; about
 * 32 KB each as Lambda encodes the response, whose body is JSON in JSON) must fit Lambda's 6 MB response
 * limit. 100 such tasks take about 3.2 MB: half the limit, a margin for fields added later.
 */
export const MAX_PAGE_SIZE = 100;

/** The query parameters of `GET /api/v2/tasks/instances`. */
export const TaskListQueryParameters = z.object({
  hostId: z.optional(z.withJsonSchema(z.string(), LONG_ID_JSON_SCHEMA)),
  status: z.optional(z.enum(TASK_STATUSES)),
  name: z.optional(z.string().check(z.minLength(1), z.maxLength(128))),
  ...pagingParameters(MAX_PAGE_SIZE),
});

/** OCP's list query: `page` counts from 1 (default 1), `size` defaults to 10. */
export function parseTaskListQuery(parameters: Record<string, string | undefined> | undefined): {
  query: TaskListQuery;
  page: number;
} {
  const parsed = TaskListQueryParameters.safeParse(parameters ?? {});
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
