import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { EventBridgeBus } from '#aws/eventbridge-bus';
import { PRODUCT_EVENT_SOURCE, TASK_STATUS_CHANGE_DETAIL_TYPE } from '#core/event-patterns';
import { taskChanges } from '#core/task-changes';
import { taskFromStreamImage } from '#store/task-stream';
import type { BusEvent } from '#use-cases/ports';
import { loggedInvocation, logger } from './logger.ts';
import { eventBusName } from './runtime-config.ts';

const PUT_EVENTS_LIMIT = 10;
const events = new EventBridgeBus();

/**
 * Publishes every task status change to the product's bus, from the task table's stream — so that no
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

function entriesFor(record: DynamoDBRecord): BusEvent[] {
  const after = taskFromStreamImage(record.dynamodb?.NewImage);
  if (!after) return [];
  const before = taskFromStreamImage(record.dynamodb?.OldImage);
  const seconds = record.dynamodb?.ApproximateCreationDateTime;
  const at = new Date(seconds ? seconds * 1000 : Date.now()).toISOString();
  return taskChanges(before, after, at).map((change) => ({
    busName: eventBusName(),
    source: PRODUCT_EVENT_SOURCE,
    detailType: TASK_STATUS_CHANGE_DETAIL_TYPE,
    resources: [after.executor],
    detail: JSON.stringify({ ...change, sequence: record.dynamodb?.SequenceNumber }),
  }));
}
