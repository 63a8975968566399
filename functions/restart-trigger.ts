import { EventBridgeBus } from '#aws/eventbridge-bus';
import { SqsQueues } from '#aws/sqs-queues';
import { StepFunctionsWorkflow } from '#aws/step-functions-workflow';
import { DomainError, InvalidArgument } from '#core/errors';
import { RESTART_REQUESTED_EVENT, restartEventKey } from '#core/event-patterns';
import { type RequestedRestart, readRequestedRestart } from '#core/requested-restart';
import { MAX_REASON_LENGTH } from '#core/scheduled-restart';
import * as z from '#core/schema';
import { BatchStore } from '#store/batch-store';
import { HostRegistry } from '#store/host-registry';
import { TaskStore } from '#store/task-store';
import {
  reject,
  runSchedule,
  type TriggerDependencies,
  type TriggerOutcome,
  triggerBatch,
  triggerRestart,
} from '#use-cases/trigger-restart';
import { loggedInvocation, logger } from './logger.ts';
import { emitMetric } from './metrics.ts';
import {
  batchStateMachineArn,
  eventBusName,
  hostTableName,
  rejectedQueueUrl,
  stateMachineArn,
  taskTableName,
} from './runtime-config.ts';

const Reason = z.string().check(z.maxLength(MAX_REASON_LENGTH));

/** The event's shape; what it names (one host or a fleet, and its rollout) is read by readRequestedRestart. */
const RestartRequestedEvent = z.object({
  id: z.string().check(z.minLength(1), z.maxLength(128)),
  source: z.literal(RESTART_REQUESTED_EVENT.source),
  'detail-type': z.literal(RESTART_REQUESTED_EVENT.detailType),
  detail: z.strictObject({
    hostId: z.optional(z.union([z.number(), z.string()])),
    hostIds: z.optional(z.unknown()),
    rollout: z.optional(z.unknown()),
    // Named, so that asking for one is refused with the reason rather than as an unknown field.
    dryRun: z.optional(z.unknown()),
    reason: z.optional(Reason),
    requestedBy: z.optional(
      z.string().check(z.regex(/^[\w.@:/+-]{1,128}$/, 'must be 1-128 letters, digits or . @ : / + - _')),
    ),
    prohibitRollback: z.optional(z.boolean()),
  }),
});

/** What the stack's schedule sends (ScheduledRestartInput); its hosts and rollout are read by scheduledBatchOf. */
const ScheduledRestart = z.object({
  scheduledRestart: z.object({
    hostIds: z.unknown(),
    reason: z.optional(Reason),
    runId: z.string().check(z.minLength(1), z.maxLength(128)),
    scheduleName: z.optional(z.string().check(z.maxLength(128))),
    rollout: z.optional(z.unknown()),
  }),
});

const tasks = new TaskStore(taskTableName());
const batches = new BatchStore(taskTableName());
const hosts = new HostRegistry(hostTableName());
const workflow = new StepFunctionsWorkflow();
const events = new EventBridgeBus();
const queues = new SqsQueues();
const dependencies = (): TriggerDependencies => ({
  tasks,
  batches,
  hosts,
  workflow,
  events,
  queues,
  stateMachineArn: stateMachineArn(),
  batchStateMachineArn: batchStateMachineArn(),
  eventBusName: eventBusName(),
  rejectedQueueUrl: rejectedQueueUrl(),
  countRejection: (code) => emitMetric({ metric: 'rejectedRestartRequest', value: 1, dimensions: { code } }),
});

/**
 * Restarts triggered without a person: an "OCP Agent Restart Requested" event on the product's bus
 * (one host as `hostId`, or a fleet as `hostIds`, started as a batch), or a run of one of the stack's
 * schedules (its hosts started as one batch; the run answers its outcome, an event a list of one). Same validation, locks, records and task shapes as the
 * API. Each request is idempotent on its event or run id: delivered again, it answers what it
 * started. A request that is invalid or names an unknown host is rejected visibly, never dropped; a
 * transient failure throws, so that the delivery is retried (and dead-lettered when retries run out).
 */
export const handler = loggedInvocation(
  async (event: unknown): Promise<TriggerOutcome | TriggerOutcome[]> => {
    const scheduled = ScheduledRestart.safeParse(event);
    if (scheduled.success) {
      const outcome = await runSchedule(scheduled.data.scheduledRestart, dependencies(), event);
      logger.info('Ran a schedule', { ...outcome, runId: scheduled.data.scheduledRestart.runId });
      return outcome;
    }
    const outcome = await handleRequest(event);
    logger.info('Triggered restart', { ...outcome });
    return [outcome];
  },
);

async function handleRequest(event: unknown): Promise<TriggerOutcome> {
  const deps = dependencies();
  const parsed = RestartRequestedEvent.safeParse(event);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const reason = `Invalid restart request: ${issue?.path.join('.') || 'event'}: ${issue?.message ?? 'invalid'}`;
    return reject(new InvalidArgument(reason).ocpCodeName, reason, event, deps);
  }
  const { id, source, detail } = parsed.data;
  let requested: RequestedRestart;
  try {
    requested = readRequestedRestart(detail);
  } catch (error) {
    if (error instanceof DomainError) return reject(error.ocpCodeName, error.message, event, deps);
    throw error;
  }
  const asked = {
    creator: detail.requestedBy ?? source,
    type: 'SYS_ONECE' as const,
    ...(detail.reason ? { reason: detail.reason } : {}),
    idempotencyKey: restartEventKey(id),
  };
  if (requested.kind === 'fleet') {
    return triggerBatch({ ...asked, request: { ...requested.batch, dryRun: false } }, deps, event);
  }
  return triggerRestart(
    { ...asked, hostId: requested.hostId, prohibitRollback: detail.prohibitRollback ?? false },
    deps,
    event,
  );
}
