import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import type { BatchHostRecord, BatchRecord } from '#core/batch-task';
import type { TaskRecord } from '#core/task';
import { fromBatchHostItem, fromBatchItem } from './batch-item.ts';
import { batchKey, isBatchHostSortKey } from './table-schema.ts';
import { fromTaskItem } from './task-item.ts';

type StreamImage = NonNullable<DynamoDBRecord['dynamodb']>['NewImage'];

/** The task in a task table stream image; undefined for the table's other items (locks, logs, keys). */
export function taskFromStreamImage(image: StreamImage): TaskRecord | undefined {
  if (image?.sk?.S !== 'TASK') return undefined;
  return fromTaskItem(unmarshall(image as Parameters<typeof unmarshall>[0]));
}

const unmarshalled = (image: StreamImage) => unmarshall(image as Parameters<typeof unmarshall>[0]);

/** The batch in a task table stream image; undefined for any other item. */
export function batchFromStreamImage(image: StreamImage): BatchRecord | undefined {
  if (!image || image.sk?.S !== batchKey(0).sk) return undefined;
  return fromBatchItem(unmarshalled(image));
}

/** The batch host in a task table stream image; undefined for any other item. */
export function batchHostFromStreamImage(image: StreamImage): BatchHostRecord | undefined {
  if (!image?.sk?.S || !isBatchHostSortKey(image.sk.S)) return undefined;
  return fromBatchHostItem(unmarshalled(image));
}
