/** What a restart schedule sends to the trigger function: the hosts, and the run id for idempotency. */
export interface ScheduledRestartInput {
  scheduledRestart: {
    hostIds: number[];
    /** One id per schedule run (EventBridge Scheduler's execution id): a repeated delivery starts nothing twice. */
    runId: string;
    scheduleName?: string;
    reason?: string;
  };
}

/** EventBridge Scheduler's context attribute for the run id, filled in when the schedule fires. */
export const SCHEDULER_RUN_ID = '<aws.scheduler.execution-id>';

export function scheduledRestartInput(
  hostIds: number[],
  runId: string,
  scheduleName?: string,
  reason = 'Scheduled agent restart',
): ScheduledRestartInput {
  return { scheduledRestart: { hostIds, runId, reason, ...(scheduleName ? { scheduleName } : {}) } };
}
