import { randomUUID } from 'node:crypto';
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  ExpiredIteratorException,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record as StreamRecord,
  TrimmedDataAccessException,
} from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';

/** Receives each batch of stream records as a Lambda function of a DynamoDB event source mapping does. */
/** It may answer with a DynamoDBBatchResponse (read only when the mapping reports batch item failures). */
export type StreamConsumer = (event: DynamoDBStreamEvent) => Promise<unknown>;

/** The settings of a DynamoDB event source mapping that local mode applies (CDK's DynamoEventSource names). */
export interface StreamMappingSettings {
  /** Records per invocation at most. */
  batchSize: number;
  /** Invocations of a failed batch after the first, before it is given up. */
  retryAttempts: number;
  /** Whether the consumer's batchItemFailures are read (FunctionResponseTypes: ReportBatchItemFailures). */
  reportBatchItemFailures: boolean;
  /** Local mode never splits a failed batch. */
  bisectBatchOnError: false;
}

/** What Lambda sends to a stream mapping's on-failure destination for a batch it gave up. */
export interface StreamFailureRecord {
  requestContext: {
    requestId: string;
    functionArn: string;
    condition: 'RetryAttemptsExhausted';
    approximateInvokeCount: number;
  };
  responseContext: { statusCode: number; executedVersion: string; functionError?: 'Unhandled' };
  version: '1.0';
  timestamp: string;
  DDBStreamBatchInfo: {
    shardId: string;
    startSequenceNumber: string;
    endSequenceNumber: string;
    approximateArrivalOfFirstRecord: string;
    approximateArrivalOfLastRecord: string;
    batchSize: number;
    streamArn: string;
  };
}

/** One event source mapping: a consumer, its settings and where a given-up batch is described. */
export interface StreamMapping {
  /** The mapped function's ARN, as the failure record names it. */
  functionArn: string;
  consumer: StreamConsumer;
  settings: StreamMappingSettings;
  /** The on-failure destination; without one a given-up batch is only logged. */
  onFailure?: (record: StreamFailureRecord) => void | Promise<void>;
}

export interface StreamPoller {
  /** Resolves once every record written before the call has been delivered. */
  drain(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A shard with nothing new is polled 4 times per second, Lambda's documented base rate for DynamoDB
 * streams; after a poll that delivered records the next one follows sooner, as Lambda resumes polling
 * once a batch is processed.
 */
const IDLE_POLL_MS = 250;
const BUSY_POLL_MS = 50;
/** GetRecords' own limit. */
const MAX_RECORDS_PER_READ = 1000;
const SHARD_REFRESH_MS = 1_000;

/** Where a mapping reads a shard next: after a record it is done with, or at one it retries. */
interface ShardCursor {
  next?: { type: 'AFTER_SEQUENCE_NUMBER' | 'AT_SEQUENCE_NUMBER'; sequence: string };
  /** Failed invocations of the batch at the cursor since the last success. */
  failedInvocations: number;
}

/** How an invocation ended: done with every record, or to be retried from the record at `from`. */
type InvocationResult = { failed: false } | { failed: true; from: number; error: unknown; threw: boolean };

/**
 * Local equivalent of DynamoDB event source mappings: reads DynamoDB Local's own stream of a table,
 * from the moment the poller starts, and hands each mapping's consumer the records in order per shard.
 * As Lambda does: a batch whose consumer throws is retried whole; a batchItemFailures answer (when
 * the mapping reads it) commits the records before the lowest failed one and retries from there;
 * after retryAttempts retries the batch is described to the on-failure destination, logged, and
 * skipped.
 */
export async function pollTableStream(
  dynamodb: DynamoDBClient,
  tableName: string,
  mappings: readonly StreamMapping[],
): Promise<StreamPoller> {
  const table = await dynamodb.send(new DescribeTableCommand({ TableName: tableName }));
  const streamArn = table.Table?.LatestStreamArn;
  if (!streamArn) throw new Error(`Table ${tableName} has no stream`);
  const streams = new DynamoDBStreamsClient({ endpoint: await endpointOf(dynamodb) });
  const readLimit = Math.min(
    MAX_RECORDS_PER_READ,
    Math.max(1, ...mappings.map((mapping) => mapping.settings.batchSize)),
  );
  /** Per shard, each mapping's cursor (by mapping index). */
  const shards = new Map<string, ShardCursor[]>();
  let stopped = false;
  let lastShardRefresh = 0;
  let firstRefresh = true;
  let idleWaiters: (() => void)[] = [];
  let failing = false;

  // Every read starts from a fresh iterator at the cursor: DynamoDB Local's NextShardIterator and
  // LATEST iterators have been seen to skip records written between polls.
  async function read(
    shardId: string,
    cursor: ShardCursor,
    limit = MAX_RECORDS_PER_READ,
  ): Promise<StreamRecord[]> {
    const iterator = await streams.send(
      new GetShardIteratorCommand({
        StreamArn: streamArn,
        ShardId: shardId,
        ...(cursor.next
          ? { ShardIteratorType: cursor.next.type, SequenceNumber: cursor.next.sequence }
          : { ShardIteratorType: 'TRIM_HORIZON' }),
      }),
    );
    const page = await streams.send(
      new GetRecordsCommand({ ShardIterator: iterator.ShardIterator, Limit: limit }),
    );
    return page.Records ?? [];
  }

  function passed(cursor: ShardCursor, record: StreamRecord | undefined): void {
    const sequence = record?.dynamodb?.SequenceNumber;
    if (sequence) cursor.next = { type: 'AFTER_SEQUENCE_NUMBER', sequence };
    cursor.failedInvocations = 0;
  }

  async function refreshShards(): Promise<void> {
    const description = await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
    for (const shard of description.StreamDescription?.Shards ?? []) {
      const shardId = shard.ShardId;
      if (!shardId || shards.has(shardId)) continue;
      const history: ShardCursor = { failedInvocations: 0 };
      // Records written before the poller started are history, not news: skip past them.
      if (firstRefresh) {
        for (let page = await read(shardId, history); page.length > 0; page = await read(shardId, history)) {
          passed(history, page.at(-1));
        }
      }
      shards.set(
        shardId,
        mappings.map(() => ({ ...history })),
      );
    }
    firstRefresh = false;
    lastShardRefresh = Date.now();
  }

  /** Delivers a batch of one shard (the records at the cursor) to one mapping, and moves its cursor as Lambda would. */
  async function deliver(
    mapping: StreamMapping,
    shardId: string,
    cursor: ShardCursor,
    records: StreamRecord[],
  ): Promise<void> {
    if (records.length === 0) return;
    const result = await invoke(mapping, records);
    if (!result.failed) {
      passed(cursor, records.at(-1));
      return;
    }
    // Records before the failed one are done: the retry, and a given-up batch, start at it.
    const failedPart = records.slice(result.from);
    cursor.next = { type: 'AT_SEQUENCE_NUMBER', sequence: failedPart[0]!.dynamodb!.SequenceNumber! };
    cursor.failedInvocations++;
    if (cursor.failedInvocations <= mapping.settings.retryAttempts) return;
    const record = failureRecord(mapping, shardId, failedPart, cursor.failedInvocations, result.threw);
    console.error(
      `STREAM BATCH GIVEN UP after ${cursor.failedInvocations} failed invocation(s) of ${mapping.functionArn}: ` +
        `${failedPart.length} record(s) of ${shardId}, sequence ${record.DDBStreamBatchInfo.startSequenceNumber} to ` +
        `${record.DDBStreamBatchInfo.endSequenceNumber}, ${mapping.onFailure ? 'described to the on-failure destination' : 'dropped (no on-failure destination)'}. Last error:`,
      result.error,
    );
    if (mapping.onFailure) await mapping.onFailure(record);
    passed(cursor, records.at(-1));
  }

  async function invoke(mapping: StreamMapping, records: StreamRecord[]): Promise<InvocationResult> {
    const event = { Records: records.map((record) => lambdaRecord(record, streamArn!)) };
    let response: unknown;
    try {
      response = await mapping.consumer(event as DynamoDBStreamEvent);
    } catch (error) {
      return { failed: true, from: 0, error, threw: true };
    }
    if (!mapping.settings.reportBatchItemFailures) return { failed: false };
    const failures = (response as Partial<DynamoDBBatchResponse> | null | undefined)?.batchItemFailures;
    if (!Array.isArray(failures) || failures.length === 0) return { failed: false };
    const positions = failures.map((failure: { itemIdentifier?: unknown } | null) =>
      records.findIndex(
        (record) =>
          typeof failure?.itemIdentifier === 'string' &&
          failure.itemIdentifier !== '' &&
          record.dynamodb?.SequenceNumber === failure.itemIdentifier,
      ),
    );
    // An empty, missing or unknown itemIdentifier fails the whole batch.
    const from = positions.includes(-1) ? 0 : Math.min(...positions);
    return {
      failed: true,
      from,
      error: `batchItemFailures ${JSON.stringify(failures)}`,
      threw: false,
    };
  }

  function failureRecord(
    mapping: StreamMapping,
    shardId: string,
    records: StreamRecord[],
    invokeCount: number,
    threw: boolean,
  ): StreamFailureRecord {
    const arrival = (record: StreamRecord | undefined) => {
      const at = record?.dynamodb?.ApproximateCreationDateTime;
      return (at ? new Date(at) : new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z');
    };
    return {
      requestContext: {
        requestId: randomUUID(),
        functionArn: mapping.functionArn,
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: invokeCount,
      },
      responseContext: {
        statusCode: 200,
        executedVersion: '$LATEST',
        ...(threw ? { functionError: 'Unhandled' as const } : {}),
      },
      version: '1.0',
      timestamp: new Date().toISOString(),
      DDBStreamBatchInfo: {
        shardId,
        startSequenceNumber: records[0]?.dynamodb?.SequenceNumber ?? '',
        endSequenceNumber: records.at(-1)?.dynamodb?.SequenceNumber ?? '',
        approximateArrivalOfFirstRecord: arrival(records[0]),
        approximateArrivalOfLastRecord: arrival(records.at(-1)),
        batchSize: records.length,
        streamArn: streamArn!,
      },
    };
  }

  /**
   * One poll of every shard for every mapping. Mappings whose cursors stand at the same record share
   * one read (each takes up to its own batch size), so the poll costs local mode's event loop and
   * DynamoDB Local one read per shard, not one per mapping. Answers how many records it delivered.
   */
  async function pollOnce(): Promise<number> {
    if (Date.now() - lastShardRefresh > SHARD_REFRESH_MS) await refreshShards();
    let delivered = 0;
    for (const [shardId, cursors] of shards) {
      const pages = new Map<string, StreamRecord[]>();
      for (const [index, mapping] of mappings.entries()) {
        const cursor = cursors[index]!;
        const at = cursor.next ? `${cursor.next.type} ${cursor.next.sequence}` : 'TRIM_HORIZON';
        try {
          let page = pages.get(at);
          if (!page) {
            page = await read(shardId, cursor, readLimit);
            pages.set(at, page);
          }
          const batch = page.slice(0, mapping.settings.batchSize);
          await deliver(mapping, shardId, cursor, batch);
          delivered += batch.length;
        } catch (error) {
          if (error instanceof ExpiredIteratorException || error instanceof TrimmedDataAccessException)
            continue;
          throw error;
        }
      }
    }
    return delivered;
  }

  await refreshShards();
  const loop = (async () => {
    while (!stopped) {
      let delivered = 0;
      try {
        delivered = await pollOnce();
        if (failing) console.error('Stream polling resumed.');
        failing = false;
      } catch (error) {
        // Once per outage (DynamoDB Local restarting), not every poll.
        if (!stopped && !failing)
          console.error('Stream poll failed:', error instanceof Error ? error.message : error);
        failing = true;
      }
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const wake of waiters) wake();
      await new Promise((resolve) => setTimeout(resolve, delivered > 0 ? BUSY_POLL_MS : IDLE_POLL_MS));
    }
  })();

  return {
    // Two complete polls after the call: the first may have started before the caller's writes.
    drain: () =>
      new Promise<void>((resolve) => {
        idleWaiters.push(() => idleWaiters.push(resolve));
      }),
    stop: async () => {
      stopped = true;
      await loop;
      for (const wake of idleWaiters) wake();
      streams.destroy();
    },
  };
}

/** A stream record as Lambda passes it: with its stream's ARN, and the creation time in epoch seconds. */
function lambdaRecord(record: StreamRecord, streamArn: string) {
  const created = record.dynamodb?.ApproximateCreationDateTime;
  return {
    ...record,
    eventSourceARN: streamArn,
    dynamodb: {
      ...record.dynamodb,
      ...(created ? { ApproximateCreationDateTime: Math.floor(created.getTime() / 1000) } : {}),
    },
  };
}

async function endpointOf(client: DynamoDBClient): Promise<string | undefined> {
  const endpoint = await client.config.endpoint?.();
  if (!endpoint) return process.env.AWS_ENDPOINT_URL_DYNAMODB;
  return `${endpoint.protocol}//${endpoint.hostname}${endpoint.port ? `:${endpoint.port}` : ''}${endpoint.path}`;
}
