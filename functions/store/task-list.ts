import { type AttributeValue, GetItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { dynamodb } from '#aws/dynamodb';
import type { BatchRecord } from '#core/batch-task';
import type { TaskRecord, TaskStatus } from '#core/task';
import { type BucketCount, locateMatch, planPage } from '#core/task-page';
import { fromBatchItem, isBatchListEntry } from './batch-item.ts';
import {
  BLOCK_COUNT_ATTRIBUTE,
  BUCKET_COUNTER_SHARDS,
  BUCKET_COUNTERS_PARTITION,
  blockCountersPartition,
  blockEndId,
  blockOfCounter,
  bucketOfCounter,
  hostCounterKey,
  LIST_BLOCK_TASKS,
  listPartition,
  TASK_TABLE,
} from './table-schema.ts';
import { type CountFilter, matchingCount } from './task-counters.ts';
import { fromTaskItem } from './task-item.ts';

/** Filters and page (0-based) of a task listing. */
export interface TaskListQuery {
  hostId?: number;
  status?: TaskStatus;
  name?: string;
  page: number;
  size: number;
}

/** A listed task instance: a restart task, or a batch restart (which no host's listing holds). */
export type ListedTask = { kind: 'task'; task: TaskRecord } | { kind: 'batch'; batch: BatchRecord };

/** One page of a listing and the number of tasks matching its filters. */
export interface TaskListPage {
  tasks: ListedTask[];
  totalElements: number;
}

/** The task or batch a list entry holds (unmarshalled). */
export function fromListEntry(item: Record<string, unknown>): ListedTask {
  return isBatchListEntry(item)
    ? { kind: 'batch', batch: fromBatchItem(item) }
    : { kind: 'task', task: fromTaskItem(item) };
}

type Key = Record<string, AttributeValue>;
/** Where reading a partition starts: below an id (when given), after passing over `skip` matches. */
interface PartitionStart {
  skip: number;
  below?: number;
}
type ListIndex = typeof TASK_TABLE.byCreationIndex | typeof TASK_TABLE.byHostIndex;

/**
 * Task listings whose cost does not grow with the tasks recorded: totals come from the counters
 * (task-counters.ts), and only the partitions that hold the page are read, each up to the page's end.
 * Newest first: by creation bucket, then by id. Eventually consistent, like the indexes it reads.
 */
export class TaskList {
  constructor(private readonly tableName: string) {}

  async list(query: TaskListQuery): Promise<TaskListPage> {
    return query.hostId === undefined ? this.allTasks(query) : this.hostTasks(query.hostId, query);
  }

  /** Every task: the bucket counters (one Query), then the buckets that hold the page, newest first. */
  private async allTasks(query: TaskListQuery): Promise<TaskListPage> {
    const counts = await this.bucketCounts(query);
    const totalElements = counts.reduce((total, { count }) => total + count, 0);
    const plan = planPage(counts, query.page, query.size);
    const tasks: ListedTask[] = [];
    const [first] = plan.buckets;
    let start: PartitionStart = { skip: plan.skip };
    if (first && !query.status && !query.name && plan.skip >= LIST_BLOCK_TASKS) {
      start = await this.blockStart(first, plan.skip);
    }
    for (const bucket of plan.buckets) {
      if (tasks.length >= query.size) break;
      const read = await this.readPartition(
        TASK_TABLE.byCreationIndex,
        listPartition(bucket),
        start,
        query.size - tasks.length,
        query,
      );
      tasks.push(...read.tasks);
      start = { skip: read.skipLeft };
    }
    return { tasks, totalElements };
  }

  /** A host's tasks: its counter, then its byHost partition up to the page's end. */
  private async hostTasks(hostId: number, query: TaskListQuery): Promise<TaskListPage> {
    const counter = await dynamodb.send(
      new GetItemCommand({ TableName: this.tableName, Key: marshall(hostCounterKey(hostId)) }),
    );
    const totalElements = counter.Item ? matchingCount(unmarshall(counter.Item), query) : 0;
    const first = query.page * query.size;
    if (first >= totalElements) return { tasks: [], totalElements };
    const { tasks } = await this.readPartition(
      TASK_TABLE.byHostIndex,
      hostId,
      { skip: first },
      query.size,
      query,
    );
    return { tasks, totalElements };
  }

  /** Matching tasks of each creation bucket, newest bucket first (the counter shards summed). */
  private async bucketCounts(filter: CountFilter): Promise<BucketCount[]> {
    const counts: BucketCount[] = [];
    let startKey: Key | undefined;
    do {
      const page = await dynamodb.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': { S: BUCKET_COUNTERS_PARTITION } },
          ScanIndexForward: false,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) {
        const counter = unmarshall(item);
        const bucket = bucketOfCounter(String(counter.sk));
        const count = matchingCount(counter, filter);
        const last = counts.at(-1);
        if (last?.bucket === bucket) last.count += count;
        else counts.push({ bucket, count });
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return counts;
  }

  /**
   * Where the task at `skip` (newest first, every status) of a bucket lies: the id block holding it,
   * found from the blocks' counters read newest first until they pass it, and the tasks before it
   * within that block (fewer than a block holds). Falls back to passing over them all when the
   * counters hold fewer tasks than that.
   */
  private async blockStart(bucket: string, skip: number): Promise<PartitionStart> {
    const counts: BucketCount[] = [];
    let passed = 0;
    let startKey: Key | undefined;
    do {
      const page = await dynamodb.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': { S: blockCountersPartition(bucket) } },
          ScanIndexForward: false,
          // The shards of every block up to the one holding `skip`, were the blocks full.
          Limit: BUCKET_COUNTER_SHARDS * (Math.floor(skip / LIST_BLOCK_TASKS) + 1),
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) {
        const counter = unmarshall(item);
        const block = String(blockOfCounter(String(counter.sk)));
        const count = Number(counter[BLOCK_COUNT_ATTRIBUTE] ?? 0);
        passed += count;
        const last = counts.at(-1);
        if (last?.bucket === block) last.count += count;
        else counts.push({ bucket: block, count });
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey && passed <= skip);
    const located = locateMatch(counts, skip);
    return located ? { below: blockEndId(Number(located.bucket)), skip: located.skip } : { skip };
  }

  /**
   * Up to `take` matching tasks of one index partition, newest first, after passing over `skip`
   * matches (read for their keys only). `skipLeft`: matches still to pass over when the partition
   * held fewer than `skip`.
   */
  private async readPartition(
    index: ListIndex,
    partition: string | number,
    { skip, below }: PartitionStart,
    take: number,
    filter: CountFilter,
  ): Promise<{ tasks: ListedTask[]; skipLeft: number }> {
    const filtered = Boolean(filter.status || filter.name);
    const keyAttributes = [TASK_TABLE.partitionKey, TASK_TABLE.sortKey, index.partitionKey, index.sortKey];
    let startKey: Key | undefined;
    let skipLeft = skip;
    // Limit counts the items read before the filter: with a filter, each read asks for twice as many.
    let limit = skip;
    while (skipLeft > 0) {
      const page = await this.query(index, { partition, below }, filter, limit, startKey, keyAttributes);
      const items = page.Items ?? [];
      if (items.length >= skipLeft) {
        startKey = keyOf(items[skipLeft - 1]!, keyAttributes);
        skipLeft = 0;
        break;
      }
      skipLeft -= items.length;
      startKey = page.LastEvaluatedKey;
      if (!startKey) return { tasks: [], skipLeft };
      limit = filtered ? limit * 2 : skipLeft;
    }
    const tasks: ListedTask[] = [];
    limit = take;
    while (tasks.length < take) {
      const page = await this.query(index, { partition, below }, filter, limit, startKey);
      for (const item of page.Items ?? []) {
        if (tasks.length < take) tasks.push(fromListEntry(unmarshall(item)));
      }
      startKey = page.LastEvaluatedKey;
      if (!startKey) break;
      limit = filtered ? limit * 2 : take - tasks.length;
    }
    return { tasks, skipLeft: 0 };
  }

  private query(
    index: ListIndex,
    { partition, below }: { partition: string | number; below: number | undefined },
    filter: CountFilter,
    limit: number,
    startKey: Key | undefined,
    projection?: readonly string[],
  ) {
    const names: Record<string, string> = {
      '#partition': index.partitionKey,
      ...(below === undefined ? {} : { '#sort': index.sortKey }),
    };
    const conditions: string[] = [];
    if (filter.status) {
      names['#status'] = 'status';
      conditions.push('#status = :status');
    }
    if (filter.name) {
      names['#name'] = 'name';
      conditions.push('contains(#name, :name)');
    }
    projection?.forEach((attribute, i) => {
      names[`#key${i}`] = attribute;
    });
    return dynamodb.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: index.name,
        KeyConditionExpression: `#partition = :partition${below === undefined ? '' : ' AND #sort < :below'}`,
        ...(conditions.length ? { FilterExpression: conditions.join(' AND ') } : {}),
        ...(projection ? { ProjectionExpression: projection.map((_, i) => `#key${i}`).join(', ') } : {}),
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: marshall({
          ':partition': partition,
          ...(below === undefined ? {} : { ':below': below }),
          ...(filter.status ? { ':status': filter.status } : {}),
          ...(filter.name ? { ':name': filter.name } : {}),
        }),
        ScanIndexForward: false,
        Limit: limit,
        ExclusiveStartKey: startKey,
      }),
    );
  }
}

function keyOf(item: Key, attributes: readonly string[]): Key {
  return Object.fromEntries(attributes.map((attribute) => [attribute, item[attribute]!]));
}
