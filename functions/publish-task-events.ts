import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { EventBridgeBus } from '#aws/eventbridge-bus';
import { type BatchChange, batchChanges, batchHostChanges } from '#core/batch-changes';
import {
  BATCH_STATUS_CHANGE_DETAIL_TYPE,
  PRODUCT_EVENT_SOURCE,
  TASK_STATUS_CHANGE_DETAIL_TYPE,
} from '#core/event-patterns';
import type { MetricPoint } from '#core/metric-names';
import { taskChanges } from '#core/task-changes';
import { taskChangeMetrics } from '#core/task-metrics';
import { batchFromStreamImage, batchHostFromStreamImage, taskFromStreamImage } from '#store/task-stream';
import type { BusEvent } from '#use-cases/ports';
import { loggedInvocation, logger } from './logger.ts';
import { emitMetrics } from './metrics.ts';
import { eventBusName } from './runtime-config.ts';

const PUT_EVENTS_LIMIT = 10;
const events = new EventBridgeBus();

/**
 * Publishes every task status change, and every change of a fleet batch and its hosts, to the product's bus, from the task table's stream — so that no
 * change is missed even if a handler crashes after its write. Records are handled in order; on a
 * failure the batch reports the first unpublished record, and the stream retries from there.
 */
export const handler = loggedInvocation(
  async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
    for (const record of event.Records) {
      const entries = entriesFor(record);
      try {
        for (let i = 0; i < entries.length; i += PUT_EVENTS_LIMIT) {
          const { failedCount } = await events.put(entries.slice(i, i + PUT_EVENTS_LIMIT));
          if (failedCount) throw new Error(`EventBridge refused ${failedCount} event(s)`);
        }
        emitMetrics(metricsFor(record));
      } catch (error) {
        logger.error('Could not publish task status changes', {
          error,
          sequence: record.dynamodb?.SequenceNumber,
        });
        return { batchItemFailures: [{ itemIdentifier: record.dynamodb?.SequenceNumber ?? '' }] };
      }
    }
    return { batchItemFailures: [] };
  },
);

/** Counted once a change is published: a record the stream delivers again after a failure is not counted twice. */
function metricsFor(record: DynamoDBRecord): MetricPoint[] {
  const after = taskFromStreamImage(record.dynamodb?.NewImage);
  return after ? taskChangeMetrics(taskFromStreamImage(record.dynamodb?.OldImage), after) : [];
}

function entriesFor(record: DynamoDBRecord): BusEvent[] {
  const seconds = record.dynamodb?.ApproximateCreationDateTime;
  const at = new Date(seconds ? seconds * 1000 : Date.now()).toISOString();
  const batchEntries = batchEntriesFor(record, at);
  if (batchEntries) return batchEntries;
  const after = taskFromStreamImage(record.dynamodb?.NewImage);
  if (!after) return [];
  const before = taskFromStreamImage(record.dynamodb?.OldImage);
  return taskChanges(before, after, at).map((change) => ({
    busName: eventBusName(),
    source: PRODUCT_EVENT_SOURCE,
    detailType: TASK_STATUS_CHANGE_DETAIL_TYPE,
    resources: [after.executor],
    detail: JSON.stringify({ ...change, sequence: record.dynamodb?.SequenceNumber }),
  }));
}

/** The batch changes of a batch's or a batch host's record; undefined for any other item. */
function batchEntriesFor(record: DynamoDBRecord, at: string): BusEvent[] | undefined {
  const images = record.dynamodb;
  let changes: BatchChange[];
  const batch = batchFromStreamImage(images?.NewImage);
  const host = batchHostFromStreamImage(images?.NewImage);
  if (batch) changes = batchChanges(batchFromStreamImage(images?.OldImage), batch, at);
  else if (host) changes = batchHostChanges(batchHostFromStreamImage(images?.OldImage), host, at);
  else return undefined;
  return changes.map((change) => ({
    busName: eventBusName(),
    source: PRODUCT_EVENT_SOURCE,
    detailType: BATCH_STATUS_CHANGE_DETAIL_TYPE,
    resources: batch ? [batch.executor] : [],
    detail: JSON.stringify({ ...change, sequence: images?.SequenceNumber }),
  }));
}
