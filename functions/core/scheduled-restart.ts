import {
  type BatchRequest,
  MAX_BATCH_HOSTS,
  parseBatchRequest,
  type RolloutFields,
} from './batch-request.ts';

/** Hosts one schedule may name (restartSchedules context): a run restarts them as one batch. */
export const MAX_SCHEDULE_HOSTS = MAX_BATCH_HOSTS;
/** Longest reason a restart request may give (events and schedules alike). */
export const MAX_REASON_LENGTH = 1024;
/** EventBridge Scheduler's limit on a schedule's Description (CloudFormation schema and API model). */
export const SCHEDULE_DESCRIPTION_MAX_LENGTH = 512;

/** What a restart schedule sends to the trigger function: the hosts, and the run id for idempotency. */
export interface ScheduledRestartInput {
  scheduledRestart: ScheduledRun;
}

/** One run of a restart schedule: its hosts restart as one batch. */
export interface ScheduledRun {
  hostIds: number[];
  /**
   * The run's scheduled time (EventBridge Scheduler's `<aws.scheduler.scheduled-time>`), the same in
   * every attempt to deliver the run: with the schedule's name, a repeated delivery starts nothing twice.
   */
  runId: string;
  scheduleName?: string;
  reason?: string;
  /** The batch's rollout, as the batch API's body gives it. @default the API's defaults */
  rollout?: RolloutFields;
}

/**
 * EventBridge Scheduler's context attribute for the run id, filled in when the schedule fires: the
 * scheduled time, not `<aws.scheduler.execution-id>`, which AWS assigns anew "for each attempted
 * invocation of a target" (Scheduler user guide, "Adding context attributes"), so that a retried
 * delivery would start a second batch.
 */
export const SCHEDULER_RUN_ID = '<aws.scheduler.scheduled-time>';

export function scheduledRestartInput(
  hostIds: number[],
  runId: string,
  scheduleName?: string,
  reason = 'Scheduled agent restart',
  rollout?: RolloutFields,
): ScheduledRestartInput {
  return {
    scheduledRestart: {
      hostIds,
      runId,
      reason,
      ...(scheduleName ? { scheduleName } : {}),
      ...(rollout && Object.keys(rollout).length > 0 ? { rollout } : {}),
    },
  };
}

const SCHEDULE_RUN = { subject: 'schedule run', at: ['scheduledRestart'] } as const;

/**
 * The batch a schedule run starts, read as the batch API reads its body (InvalidArgument names what
 * is wrong, e.g. `scheduledRestart.hostIds[3]`).
 */
export function scheduledBatchOf(run: { hostIds: unknown; rollout?: unknown }): BatchRequest & {
  dryRun: false;
} {
  const request = parseBatchRequest(
    { hostIds: run.hostIds, ...(run.rollout === undefined ? {} : { rollout: run.rollout }) },
    SCHEDULE_RUN,
  );
  return { ...request, dryRun: false };
}

/**
 * The idempotency key of a schedule run's batch: however often the run is delivered, it starts one
 * batch.
 */
export function scheduledRunKey(runId: string, scheduleName = ''): string {
  return `schedule:${scheduleName}@${runId}`;
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
