import { PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { eventbridge } from '#aws/eventbridge';
import { PRODUCT_EVENT_SOURCE, TASK_STATUS_CHANGE_DETAIL_TYPE } from '#core/event-patterns';
import { taskChanges } from '#core/task-changes';
import { taskFromStreamImage } from '#store/task-stream';
import { loggedInvocation, logger } from './logger.ts';
import { eventBusName } from './runtime-config.ts';

const PUT_EVENTS_LIMIT = 10;

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
          const result = await eventbridge.send(
            new PutEventsCommand({ Entries: entries.slice(i, i + PUT_EVENTS_LIMIT) }),
          );
          if (result.FailedEntryCount)
            throw new Error(`EventBridge refused ${result.FailedEntryCount} event(s)`);
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

function entriesFor(record: DynamoDBRecord): PutEventsRequestEntry[] {
  const after = taskFromStreamImage(record.dynamodb?.NewImage);
  if (!after) return [];
  const before = taskFromStreamImage(record.dynamodb?.OldImage);
  const seconds = record.dynamodb?.ApproximateCreationDateTime;
  const at = new Date(seconds ? seconds * 1000 : Date.now()).toISOString();
  return taskChanges(before, after, at).map((change) => ({
    EventBusName: eventBusName(),
    Source: PRODUCT_EVENT_SOURCE,
    DetailType: TASK_STATUS_CHANGE_DETAIL_TYPE,
    Resources: [after.executor],
    Detail: JSON.stringify({ ...change, sequence: record.dynamodb?.SequenceNumber }),
  }));
}
