import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { eventbridge } from '#aws/eventbridge';
import { sqs } from '#aws/sqs';
import { DomainError, HostBusy } from '#core/errors';
import { PRODUCT_EVENT_SOURCE, RESTART_REJECTED_DETAIL_TYPE } from '#core/event-patterns';
import type { TaskType } from '#core/task';
import { type RestartDependencies, startRestartTask } from './start-restart-task.ts';

/** A restart asked for by an event or a schedule, before validation of its host. */
export interface TriggeredRestart {
  hostId: bigint;
  creator: string;
  type: TaskType;
  prohibitRollback: boolean;
  reason?: string;
  /** The event id (or schedule run and host): a repeated delivery creates no second task. */
  idempotencyKey: string;
}

export type TriggerOutcome =
  | { outcome: 'STARTED' | 'DUPLICATE'; taskId: number; hostId: string }
  | { outcome: 'SKIPPED' | 'REJECTED'; hostId?: string; code: string; reason: string };

export interface TriggerDependencies extends RestartDependencies {
  eventBusName: string;
  rejectedQueueUrl: string;
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
 * Refuses a request visibly: a "Rejected" event on the bus, the original event with the reason in the
 * rejected-requests queue, and one count on the rejection metric.
 */
export async function reject(
  code: string,
  reason: string,
  original: unknown,
  deps: Pick<TriggerDependencies, 'eventBusName' | 'rejectedQueueUrl' | 'countRejection'>,
  hostId?: string,
): Promise<TriggerOutcome> {
  const rejected = { outcome: 'REJECTED' as const, ...(hostId ? { hostId } : {}), code, reason };
  await report(rejected, original, deps, { toQueue: true });
  return rejected;
}

async function report(
  outcome: Extract<TriggerOutcome, { code: string }>,
  original: unknown,
  deps: Pick<TriggerDependencies, 'eventBusName' | 'rejectedQueueUrl' | 'countRejection'>,
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
    eventbridge.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: deps.eventBusName,
            Source: PRODUCT_EVENT_SOURCE,
            DetailType: RESTART_REJECTED_DETAIL_TYPE,
            Detail: JSON.stringify(detail),
          },
        ],
      }),
    ),
    options.toQueue
      ? sqs.send(
          new SendMessageCommand({
            QueueUrl: deps.rejectedQueueUrl,
            MessageBody: JSON.stringify({ ...detail, event: original }),
          }),
        )
      : undefined,
  ]);
}
