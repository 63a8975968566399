import type { SQSBatchResponse } from 'aws-lambda';
import { EventBridgeBus } from '#aws/eventbridge-bus';
import { SqsQueues } from '#aws/sqs-queues';
import { StepFunctionsWorkflow } from '#aws/step-functions-workflow';
import { InvalidArgument } from '#core/errors';
import { RESTART_REQUESTED_EVENT, restartEventKey } from '#core/event-patterns';
import { parseLongId } from '#core/ids';
import {
  MAX_REASON_LENGTH,
  MAX_SCHEDULE_HOSTS,
  type ScheduledHostRestart,
  type ScheduledRestartInput,
} from '#core/scheduled-restart';
import * as z from '#core/schema';
import { HostRegistry } from '#store/host-registry';
import { TaskStore } from '#store/task-store';
import {
  queueScheduledRun,
  reject,
  restartScheduledHost,
  type ScheduledRunQueued,
  type TriggerDependencies,
  type TriggerOutcome,
  triggerRestart,
} from '#use-cases/trigger-restart';
import { loggedInvocation, logger } from './logger.ts';
import { emitMetric } from './metrics.ts';
import {
  eventBusName,
  hostTableName,
  rejectedQueueUrl,
  scheduledRestartQueueUrl,
  stateMachineArn,
  taskTableName,
} from './runtime-config.ts';

const HostId = z.number().check(z.int(), z.positive(), z.maximum(Number.MAX_SAFE_INTEGER));
const Reason = z.string().check(z.maxLength(MAX_REASON_LENGTH));
const RunId = z.string().check(z.minLength(1), z.maxLength(128));
const ScheduleName = z.string().check(z.maxLength(128));

const RestartRequestedEvent = z.object({
  id: z.string().check(z.minLength(1), z.maxLength(128)),
  source: z.literal(RESTART_REQUESTED_EVENT.source),
  'detail-type': z.literal(RESTART_REQUESTED_EVENT.detailType),
  detail: z.strictObject({
    hostId: z.union([HostId, z.string()]),
    reason: z.optional(Reason),
    requestedBy: z.optional(
      z.string().check(z.regex(/^[\w.@:/+-]{1,128}$/, 'must be 1-128 letters, digits or . @ : / + - _')),
    ),
    prohibitRollback: z.optional(z.boolean()),
  }),
});

/** What the stack's schedule sends (ScheduledRestartInput). */
const ScheduledRestart = z.object({
  scheduledRestart: z.object({
    hostIds: z.array(HostId).check(z.minLength(1), z.maxLength(MAX_SCHEDULE_HOSTS)),
    reason: z.optional(Reason),
    runId: RunId,
    scheduleName: z.optional(ScheduleName),
  }),
}) satisfies z.ZodMiniType<ScheduledRestartInput>;

/** One message of the scheduled-restarts queue (ScheduledHostRestart). */
const ScheduledHostRestartMessage = z.object({
  scheduledHostRestart: z.object({
    runId: RunId,
    hostId: HostId,
    scheduleName: z.optional(ScheduleName),
    reason: z.optional(Reason),
  }),
}) satisfies z.ZodMiniType<ScheduledHostRestart>;

/** A batch from the scheduled-restarts queue, as Lambda's SQS event source mapping delivers it. */
const QueueBatch = z.object({
  Records: z
    .array(z.object({ messageId: z.string(), body: z.string(), eventSource: z.literal('aws:sqs') }))
    .check(z.minLength(1)),
});

const tasks = new TaskStore(taskTableName());
const hosts = new HostRegistry(hostTableName());
const workflow = new StepFunctionsWorkflow();
const events = new EventBridgeBus();
const queues = new SqsQueues();
const dependencies = (): TriggerDependencies => ({
  tasks,
  hosts,
  workflow,
  events,
  queues,
  stateMachineArn: stateMachineArn(),
  eventBusName: eventBusName(),
  rejectedQueueUrl: rejectedQueueUrl(),
  countRejection: (code) => emitMetric({ metric: 'rejectedRestartRequest', value: 1, dimensions: { code } }),
});

/**
 * Restarts triggered without a person: an "OCP Agent Restart Requested" event on the product's bus, or
 * a run of one of the stack's schedules. Same validation, lock, records and task shape as the API. A
 * request that is invalid or names an unknown host is rejected visibly, never dropped; a transient
 * failure throws, so that the delivery is retried (and dead-lettered when retries run out).
 *
 * A schedule run (up to 1,000 hosts) is not restarted here: it is fanned out as one message per host
 * to the scheduled-restarts queue, whose batches come back to this function through an SQS event
 * source mapping. Each message names its run and host, the restart's idempotency key, so a run or a
 * message delivered twice starts no second task; a message whose host could not be started (a
 * transient error) is reported in batchItemFailures and redelivered, and dead-lettered after a few.
 */
export const handler = loggedInvocation(
  async (event: unknown): Promise<TriggerOutcome[] | ScheduledRunQueued | SQSBatchResponse> => {
    const batch = QueueBatch.safeParse(event);
    if (batch.success) return restartQueuedHosts(batch.data.Records);
    const scheduled = ScheduledRestart.safeParse(event);
    if (scheduled.success) {
      const queued = await queueScheduledRun(scheduled.data.scheduledRestart, {
        scheduledRestartQueueUrl: scheduledRestartQueueUrl(),
        queues,
      });
      logger.info('Queued a schedule run', { ...queued });
      return queued;
    }
    const outcomes = await handleRequest(event);
    for (const outcome of outcomes) logger.info('Triggered restart', { ...outcome });
    return outcomes;
  },
);

/** Starts each message's host restart at once; the messages that failed transiently are redelivered. */
async function restartQueuedHosts(
  records: readonly { messageId: string; body: string }[],
): Promise<SQSBatchResponse> {
  const deps = dependencies();
  const results = await Promise.allSettled(
    records.map(async (record) => {
      const message = parseMessage(record.body);
      const outcome = message.success
        ? await restartScheduledHost(message.data.scheduledHostRestart, deps, message.data)
        : // Redelivery cannot mend a malformed message: it is refused visibly, once.
          await reject(new InvalidArgument(message.reason).ocpCodeName, message.reason, record.body, deps);
      logger.info('Triggered restart', { ...outcome, messageId: record.messageId });
    }),
  );
  const batchItemFailures = records.flatMap((record, index) => {
    const result = results[index];
    if (result?.status !== 'rejected') return [];
    logger.error('Scheduled host restart failed; SQS will deliver it again', {
      messageId: record.messageId,
      error: result.reason as Error,
    });
    return [{ itemIdentifier: record.messageId }];
  });
  return { batchItemFailures };
}

function parseMessage(
  body: string,
): { success: true; data: ScheduledHostRestart } | { success: false; reason: string } {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { success: false, reason: 'Invalid scheduled host restart: the message is not JSON' };
  }
  const parsed = ScheduledHostRestartMessage.safeParse(json);
  if (parsed.success) return { success: true, data: parsed.data };
  const issue = parsed.error.issues[0];
  return {
    success: false,
    reason: `Invalid scheduled host restart: ${issue?.path.join('.') || 'message'}: ${issue?.message ?? 'invalid'}`,
  };
}

async function handleRequest(event: unknown): Promise<TriggerOutcome[]> {
  const deps = dependencies();
  const parsed = RestartRequestedEvent.safeParse(event);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const reason = `Invalid restart request: ${issue?.path.join('.') || 'event'}: ${issue?.message ?? 'invalid'}`;
    return [await reject(new InvalidArgument(reason).ocpCodeName, reason, event, deps)];
  }
  const { id, source, detail } = parsed.data;
  let hostId: bigint;
  try {
    hostId = parseLongId(String(detail.hostId), 'hostId');
  } catch (error) {
    const invalid = error as InvalidArgument;
    return [await reject(invalid.ocpCodeName, invalid.message, event, deps)];
  }
  return [
    await triggerRestart(
      {
        hostId,
        creator: detail.requestedBy ?? source,
        type: 'SYS_ONECE',
        prohibitRollback: detail.prohibitRollback ?? false,
        ...(detail.reason ? { reason: detail.reason } : {}),
        idempotencyKey: restartEventKey(id),
      },
      deps,
      event,
    ),
  ];
}
