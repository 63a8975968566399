import * as z from '#core/schema';

/** The fields of Step Functions' "Execution Status Change" event (EventBridge) the product reads. */
export const ExecutionStatusDetail = z.object({
  executionArn: z.string(),
  name: z.string(),
  status: z.enum(['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE']),
  /** Epoch milliseconds. */
  stopDate: z.nullish(z.number()),
  input: z.nullish(z.string()),
  error: z.nullish(z.string()),
  cause: z.nullish(z.string()),
});
