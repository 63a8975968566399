import * as z from '#core/schema';

/** The body of `POST /compute/hosts/{hostId}/agent/restart` (an absent body is read as `{}`). */
export const RestartBody = z.strictObject({ prohibitRollback: z.optional(z.boolean()) });
