import * as z from '#core/schema';
import { invalidQuery } from './paging.ts';

/** The query parameters of a subtask's log: `cursor`, the previous answer's (core/live-log.ts checks it). */
export const SubtaskLogQueryParameters = z.object({
  cursor: z.optional(
    z.withJsonSchema(z.string(), {
      description: 'The `cursor` of the previous answer: only what was written since is answered.',
    }),
  ),
});

export function parseSubtaskLogQuery(parameters: Record<string, string | undefined> | undefined): {
  cursor?: string;
} {
  const parsed = SubtaskLogQueryParameters.safeParse(parameters ?? {});
  if (!parsed.success) invalidQuery(parsed.error.issues);
  return parsed.data;
}
