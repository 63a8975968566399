import { DomainError, HostBusy } from '#core/errors';
import { PRODUCT_EVENT_SOURCE, RESTART_REJECTED_DETAIL_TYPE } from '#core/event-patterns';
import { type ScheduledRun, scheduledBatchOf, scheduledRunKey } from '#core/scheduled-restart';
import type { EventBus, MessageQueues } from './ports.ts';
import { type BatchStartDependencies, type BatchToStart, startBatch } from './start-batch-restart.ts';
import { type RestartDependencies, type RestartRequest, startRestartTask } from './start-restart-task.ts';

/** A host's restart asked for by an event, before validation of its host. */
export interface TriggeredRestart extends RestartRequest {
  /** The event id: a repeated delivery creates no second task. */
  idempotencyKey: string;
}

export type TriggerOutcome =
  | { outcome: 'STARTED' | 'DUPLICATE'; taskId: number; hostId: string }
  | { outcome: 'STARTED' | 'DUPLICATE'; batchId: number; hostCount: number }
  | { outcome: 'SKIPPED' | 'REJECTED'; hostId?: string; code: string; reason: string };

export interface TriggerDependencies extends RestartDependencies, BatchStartDependencies {
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

/**
 * Starts a triggered batch through the same core as the API (startBatch); a request it refuses
 * (unknown hosts) is rejected visibly, writing nothing. A repeated delivery answers the batch it
 * started.
 */
export async function triggerBatch(
  toStart: BatchToStart & { idempotencyKey: string },
  deps: TriggerDependencies,
  original: unknown,
): Promise<TriggerOutcome> {
  try {
    const { batch, duplicate } = await startBatch(toStart, deps);
    return { outcome: duplicate ? 'DUPLICATE' : 'STARTED', batchId: batch.id, hostCount: batch.hostCount };
  } catch (error) {
    if (error instanceof DomainError) return reject(error.ocpCodeName, error.message, original, deps);
    throw error;
  }
}

/**
 * Starts a schedule run's hosts as one batch, SCHEDULED and created by the schedule; the run id is
 * its idempotency key, so a run delivered twice starts one batch.
 */
export async function runSchedule(
  run: Omit<ScheduledRun, 'hostIds' | 'rollout'> & { hostIds: unknown; rollout?: unknown },
  deps: TriggerDependencies,
  original: unknown,
): Promise<TriggerOutcome> {
  let request: BatchToStart['request'];
  try {
    request = scheduledBatchOf(run);
  } catch (error) {
    if (error instanceof DomainError) return reject(error.ocpCodeName, error.message, original, deps);
    throw error;
  }
  return triggerBatch(
    {
      request,
      creator: run.scheduleName ?? 'schedule',
      type: 'SCHEDULED',
      ...(run.reason ? { reason: run.reason } : {}),
      idempotencyKey: scheduledRunKey(run.runId, run.scheduleName),
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
