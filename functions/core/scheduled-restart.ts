/** Hosts one schedule may name (restartSchedules context, and what restart-trigger accepts). */
export const MAX_SCHEDULE_HOSTS = 1000;
/** Longest reason a restart request may give (events and schedules alike). */
export const MAX_REASON_LENGTH = 1024;
/** EventBridge Scheduler's limit on a schedule's Description (CloudFormation schema and API model). */
export const SCHEDULE_DESCRIPTION_MAX_LENGTH = 512;

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

/** One host's restart in one schedule run: the body of one message of the scheduled-restarts queue. */
export interface ScheduledHostRestart {
  scheduledHostRestart: {
    runId: string;
    hostId: number;
    scheduleName?: string;
    reason?: string;
  };
}

/** Splits a schedule run into one restart per host, in the schedule's order. */
export function hostRestartsOf(run: ScheduledRestartInput['scheduledRestart']): ScheduledHostRestart[] {
  const { runId, scheduleName, reason } = run;
  return run.hostIds.map((hostId) => ({
    scheduledHostRestart: {
      runId,
      hostId,
      ...(scheduleName ? { scheduleName } : {}),
      ...(reason ? { reason } : {}),
    },
  }));
}

/**
 * The idempotency key of one host's restart in one run: however often the run or its message is
 * delivered, the host gets one task from it.
 */
export function scheduledRestartKey(runId: string, hostId: number): string {
  return `schedule:${runId}:${hostId}`;
}

/** Consecutive slices of at most `size` items. */
export function inBatches<T>(items: readonly T[], size: number): T[][] {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`batch size must be a whole number ≥ 1`);
  const batches: T[][] = [];
  for (let i = 0; i < items.length; i += size) batches.push(items.slice(i, i + size));
  return batches;
}

/**
 * A schedule's description within Scheduler's 512 characters: its name, how many hosts, and as many
 * of their ids as fit ("... and N more" for the rest). The schedule's input carries the full list.
 */
export function describeSchedule(
  name: string,
  hostIds: readonly number[],
  maxLength = SCHEDULE_DESCRIPTION_MAX_LENGTH,
): string {
  const head = `Restarts the OCP agent on ${hostIds.length} host${hostIds.length === 1 ? '' : 's'} (schedule ${name}): `;
  const whole = head + hostIds.join(', ');
  if (whole.length <= maxLength) return whole;
  const truncated = (count: number) =>
    `${head}${hostIds.slice(0, count).join(', ')}${count > 0 ? ', ' : ''}... and ${hostIds.length - count} more`;
  // Each further id makes the text longer, so the first that does not fit ends the list.
  let listed = 0;
  let length = truncated(0).length;
  while (listed < hostIds.length) {
    const rest = hostIds.length - listed;
    const next =
      length + String(hostIds[listed]).length + 2 - (String(rest).length - String(rest - 1).length);
    if (next > maxLength) break;
    length = next;
    listed++;
  }
  const description = truncated(listed);
  if (description.length > maxLength)
    throw new RangeError(`schedule ${name}: its name is too long to describe in ${maxLength} characters`);
  return description;
}

/**
 * How the scheduled-restarts queue feeds restart-trigger, on AWS (SQS event source mapping) and in
 * local mode alike. Ten one-host messages per invocation, at most five invocations at once: fifty
 * restarts starting together, so a 1,000-host run is started in well under a minute without
 * bursting Step Functions' StartExecution quota. A message stays hidden for six times the function's
 * 30 s timeout (AWS's advice for SQS event sources) and moves to the dead-letter queue after its
 * fifth delivery.
 */
export const SCHEDULED_RESTART_QUEUE = {
  batchSize: 10,
  maxConcurrency: 5,
  visibilityTimeoutSeconds: 180,
  maxReceiveCount: 5,
} as const;
