import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import type { TaskRecord } from '#core/task';
import { fromTaskItem } from './task-item.ts';

type StreamImage = NonNullable<DynamoDBRecord['dynamodb']>['NewImage'];

/** The task in a task table stream image; undefined for the table's other items (locks, logs, keys). */
export function taskFromStreamImage(image: StreamImage): TaskRecord | undefined {
  if (image?.sk?.S !== 'TASK') return undefined;
  return fromTaskItem(unmarshall(image as Parameters<typeof unmarshall>[0]));
}
