import { DomainError, HostBusy } from '#core/errors';
import { PRODUCT_EVENT_SOURCE, RESTART_REJECTED_DETAIL_TYPE } from '#core/event-patterns';
import {
  hostRestartsOf,
  inBatches,
  type ScheduledHostRestart,
  type ScheduledRestartInput,
  scheduledRestartKey,
} from '#core/scheduled-restart';
import type { EventBus, MessageQueues } from './ports.ts';
import { type RestartDependencies, type RestartRequest, startRestartTask } from './start-restart-task.ts';

/** A restart asked for by an event or a schedule, before validation of its host. */
export interface TriggeredRestart extends RestartRequest {
  /** The event id (or schedule run and host): a repeated delivery creates no second task. */
  idempotencyKey: string;
}

export type TriggerOutcome =
  | { outcome: 'STARTED' | 'DUPLICATE'; taskId: number; hostId: string }
  | { outcome: 'SKIPPED' | 'REJECTED'; hostId?: string; code: string; reason: string };

export interface TriggerDependencies extends RestartDependencies {
  eventBusName: string;
  rejectedQueueUrl: string;
  events: EventBus;
  queues: MessageQueues;
  /** Counts a rejected request (a CloudWatch metric on AWS). */
  countRejection: (code: string) => void;
}

/** Starts a triggered restart through the same core as the API; a busy host is skipped and reported. */
export async function triggerRestart(
  request: TriggeredRestart,
  deps: TriggerDependencies,
  original: unknown,
): Promise<TriggerOutcome> {
  try {
    const { task, duplicate } = await startRestartTask(request, deps);
    return { outcome: duplicate ? 'DUPLICATE' : 'STARTED', taskId: task.id, hostId: String(task.hostId) };
  } catch (error) {
    if (error instanceof HostBusy) {
      const skipped = {
        outcome: 'SKIPPED' as const,
        hostId: request.hostId.toString(),
        code: error.ocpCodeName,
        reason: error.message,
      };
      await report(skipped, original, deps, { toQueue: false });
      return skipped;
    }
    if (error instanceof DomainError)
      return reject(error.ocpCodeName, error.message, original, deps, request.hostId.toString());
    throw error;
  }
}

/** SQS takes at most ten messages in one SendMessageBatch call. */
const MESSAGES_PER_SEND = 10;
/** SendMessageBatch calls under way at once while a run is queued. */
const SENDS_IN_FLIGHT = 10;

/** A schedule run, queued as one message per host. */
export interface ScheduledRunQueued {
  outcome: 'QUEUED';
  runId: string;
  hosts: number;
}

/**
 * Fans a schedule run out: one message per host on the scheduled-restarts queue, whose consumer starts
 * each host's restart (restartScheduledHost), so a run of any size ends within one short invocation.
 * Throws unless SQS accepted every message, so that the run is delivered again; hosts queued twice
 * cost nothing, as each host's restart is idempotent on (run, host).
 */
export async function queueScheduledRun(
  run: ScheduledRestartInput['scheduledRestart'],
  deps: { scheduledRestartQueueUrl: string; queues: MessageQueues },
): Promise<ScheduledRunQueued> {
  const sends = inBatches(inBatches(hostRestartsOf(run), MESSAGES_PER_SEND), SENDS_IN_FLIGHT);
  const refused: string[] = [];
  for (const round of sends) {
    const results = await Promise.all(
      round.map((messages) =>
        deps.queues.sendBatch(
          deps.scheduledRestartQueueUrl,
          messages.map((message) => JSON.stringify(message)),
        ),
      ),
    );
    for (const failures of results) {
      for (const failed of failures) refused.push(`${failed.code}: ${failed.message ?? ''}`);
    }
  }
  if (refused.length > 0) {
    throw new Error(
      `SQS refused ${refused.length} of ${run.hostIds.length} scheduled host restarts of run ${run.runId} (${refused[0]})`,
    );
  }
  return { outcome: 'QUEUED', runId: run.runId, hosts: run.hostIds.length };
}

/** Starts one host's restart of a schedule run; a repeated delivery answers with the task it started. */
export function restartScheduledHost(
  restart: ScheduledHostRestart['scheduledHostRestart'],
  deps: TriggerDependencies,
  original: unknown,
): Promise<TriggerOutcome> {
  const { runId, hostId, scheduleName, reason } = restart;
  return triggerRestart(
    {
      hostId: BigInt(hostId),
      creator: scheduleName ?? 'schedule',
      type: 'SCHEDULED',
      prohibitRollback: false,
      ...(reason ? { reason } : {}),
      idempotencyKey: scheduledRestartKey(runId, hostId),
    },
    deps,
    original,
  );
}

/** What reporting a skipped or rejected request needs. */
type Reporting = Pick<
  TriggerDependencies,
  'eventBusName' | 'rejectedQueueUrl' | 'countRejection' | 'events' | 'queues'
>;

/**
 * Refuses a request visibly: a "Rejected" event on the bus, the original event with the reason in the
 * rejected-requests queue, and one count on the rejection metric.
 */
export async function reject(
  code: string,
  reason: string,
  original: unknown,
  deps: Reporting,
  hostId?: string,
): Promise<TriggerOutcome> {
  const rejected = { outcome: 'REJECTED' as const, ...(hostId ? { hostId } : {}), code, reason };
  await report(rejected, original, deps, { toQueue: true });
  return rejected;
}

async function report(
  outcome: Extract<TriggerOutcome, { code: string }>,
  original: unknown,
  deps: Reporting,
  options: { toQueue: boolean },
): Promise<void> {
  deps.countRejection(outcome.code);
  const originalId =
    typeof original === 'object' && original && 'id' in original ? String(original.id) : undefined;
  const detail = {
    ...outcome,
    ...(originalId ? { requestEventId: originalId } : {}),
    at: new Date().toISOString(),
  };
  await Promise.all([
    deps.events.put([
      {
        busName: deps.eventBusName,
        source: PRODUCT_EVENT_SOURCE,
        detailType: RESTART_REJECTED_DETAIL_TYPE,
        detail: JSON.stringify(detail),
      },
    ]),
    options.toQueue
      ? deps.queues.send(deps.rejectedQueueUrl, JSON.stringify({ ...detail, event: original }))
      : undefined,
  ]);
}
