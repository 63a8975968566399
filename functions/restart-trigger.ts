import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { InvalidArgument } from '#core/errors';
import { RESTART_REQUESTED_EVENT } from '#core/event-patterns';
import { parseLongId } from '#core/ids';
import type { ScheduledRestartInput } from '#core/scheduled-restart';
import * as z from '#core/schema';
import { HostRegistry } from '#store/host-registry';
import { TaskStore } from '#store/task-store';
import {
  reject,
  type TriggerDependencies,
  type TriggerOutcome,
  triggerRestart,
} from '#use-cases/trigger-restart';
import { logger } from './logger.ts';
import {
  eventBusName,
  hostTableName,
  rejectedQueueUrl,
  stateMachineArn,
  taskTableName,
} from './runtime-config.ts';

const metrics = new Metrics({ namespace: 'OcpAgentRestart', serviceName: 'ocp-agent-restart' });

const RestartRequestedEvent = z.object({
  id: z.string().check(z.minLength(1), z.maxLength(128)),
  source: z.literal(RESTART_REQUESTED_EVENT.source),
  'detail-type': z.literal(RESTART_REQUESTED_EVENT.detailType),
  detail: z.strictObject({
    hostId: z.union([
      z.number().check(z.int(), z.positive(), z.maximum(Number.MAX_SAFE_INTEGER)),
      z.string(),
    ]),
    reason: z.optional(z.string().check(z.maxLength(1024))),
    requestedBy: z.optional(
      z.string().check(z.regex(/^[\w.@:/+-]{1,128}$/, 'must be 1-128 letters, digits or . @ : / + - _')),
    ),
    prohibitRollback: z.optional(z.boolean()),
  }),
});

/** What the stack's schedule sends (ScheduledRestartInput). */
const ScheduledRestart = z.object({
  scheduledRestart: z.object({
    hostIds: z
      .array(z.number().check(z.int(), z.positive(), z.maximum(Number.MAX_SAFE_INTEGER)))
      .check(z.minLength(1), z.maxLength(1000)),
    reason: z.optional(z.string().check(z.maxLength(1024))),
    runId: z.string().check(z.minLength(1), z.maxLength(128)),
    scheduleName: z.optional(z.string().check(z.maxLength(128))),
  }),
}) satisfies z.ZodMiniType<ScheduledRestartInput>;

const tasks = new TaskStore(taskTableName());
const hosts = new HostRegistry(hostTableName());
const dependencies = (): TriggerDependencies => ({
  tasks,
  hosts,
  stateMachineArn: stateMachineArn(),
  eventBusName: eventBusName(),
  rejectedQueueUrl: rejectedQueueUrl(),
  countRejection: (code) =>
    metrics
      .singleMetric()
      .addDimension('code', code)
      .addMetric('RejectedRestartRequests', MetricUnit.Count, 1),
});

/**
 * Restarts triggered without a person: an "OCP Agent Restart Requested" event on the product's bus, or
 * the stack's schedule. Same validation, lock, records and task shape as the API. A request that is
 * invalid or names an unknown host is rejected visibly, never dropped; a transient failure throws, so
 * that the delivery is retried (and dead-lettered when retries run out).
 */
export const handler = async (event: unknown): Promise<TriggerOutcome[]> => {
  try {
    const outcomes = await handle(event);
    for (const outcome of outcomes) logger.info('Triggered restart', { ...outcome });
    return outcomes;
  } finally {
    metrics.publishStoredMetrics();
  }
};

async function handle(event: unknown): Promise<TriggerOutcome[]> {
  const deps = dependencies();
  const scheduled = ScheduledRestart.safeParse(event);
  if (scheduled.success) {
    const { hostIds, reason, runId, scheduleName } = scheduled.data.scheduledRestart;
    const outcomes: TriggerOutcome[] = [];
    for (const hostId of hostIds) {
      outcomes.push(
        await triggerRestart(
          {
            hostId: BigInt(hostId),
            creator: scheduleName ?? 'schedule',
            type: 'SCHEDULED',
            prohibitRollback: false,
            ...(reason ? { reason } : {}),
            idempotencyKey: `schedule:${runId}:${hostId}`,
          },
          deps,
          event,
        ),
      );
    }
    return outcomes;
  }
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
        idempotencyKey: `event:${id}`,
      },
      deps,
      event,
    ),
  ];
}
