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
import type { DynamoDBStreamEvent } from 'aws-lambda';

/** Receives each batch of stream records as Lambda's DynamoDB event source mapping would. */
export type StreamConsumer = (event: DynamoDBStreamEvent) => Promise<void>;

export interface StreamPoller {
  /** Resolves once every record written before the call has been delivered. */
  drain(): Promise<void>;
  stop(): Promise<void>;
}

const POLL_MS = 50;
const SHARD_REFRESH_MS = 1_000;

interface ShardCursor {
  /** Last record delivered (or skipped as history): reading resumes right after it. */
  lastSequence?: string;
}

/**
 * Local equivalent of a DynamoDB event source mapping: reads DynamoDB Local's own stream of a table,
 * from the moment the poller starts, and hands the records, in order per shard, to the consumers.
 */
export async function pollTableStream(
  dynamodb: DynamoDBClient,
  tableName: string,
  consumers: readonly StreamConsumer[],
): Promise<StreamPoller> {
  const table = await dynamodb.send(new DescribeTableCommand({ TableName: tableName }));
  const streamArn = table.Table?.LatestStreamArn;
  if (!streamArn) throw new Error(`Table ${tableName} has no stream`);
  const streams = new DynamoDBStreamsClient({ endpoint: await endpointOf(dynamodb) });
  const shards = new Map<string, ShardCursor>();
  let stopped = false;
  let lastShardRefresh = 0;
  let firstRefresh = true;
  let idleWaiters: (() => void)[] = [];
  let failing = false;

  // Every read starts from a fresh iterator after the last record seen: DynamoDB Local's
  // NextShardIterator and LATEST iterators have been seen to skip records written between polls.
  async function readAfter(shardId: string, cursor: ShardCursor): Promise<StreamRecord[]> {
    const iterator = await streams.send(
      new GetShardIteratorCommand({
        StreamArn: streamArn,
        ShardId: shardId,
        ...(cursor.lastSequence
          ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: cursor.lastSequence }
          : { ShardIteratorType: 'TRIM_HORIZON' }),
      }),
    );
    const page = await streams.send(
      new GetRecordsCommand({ ShardIterator: iterator.ShardIterator, Limit: 1000 }),
    );
    const records = page.Records ?? [];
    cursor.lastSequence = records.at(-1)?.dynamodb?.SequenceNumber ?? cursor.lastSequence;
    return records;
  }

  async function refreshShards(): Promise<void> {
    const description = await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
    for (const shard of description.StreamDescription?.Shards ?? []) {
      const shardId = shard.ShardId;
      if (!shardId || shards.has(shardId)) continue;
      const cursor: ShardCursor = {};
      shards.set(shardId, cursor);
      // Records written before the poller started are history, not news: skip past them.
      if (firstRefresh) while ((await readAfter(shardId, cursor)).length > 0);
    }
    firstRefresh = false;
    lastShardRefresh = Date.now();
  }

  async function pollOnce(): Promise<void> {
    if (Date.now() - lastShardRefresh > SHARD_REFRESH_MS) await refreshShards();
    for (const [shardId, cursor] of shards) {
      let records: StreamRecord[];
      try {
        records = await readAfter(shardId, cursor);
      } catch (error) {
        if (error instanceof ExpiredIteratorException || error instanceof TrimmedDataAccessException)
          continue;
        throw error;
      }
      if (records.length === 0) continue;
      const event = { Records: records.map((record) => ({ ...record, eventSourceARN: streamArn })) };
      for (const consumer of consumers) {
        try {
          await consumer(event as DynamoDBStreamEvent);
        } catch (error) {
          console.error(`Stream consumer failed on ${records.length} record(s):`, error);
        }
      }
    }
  }

  await refreshShards();
  const loop = (async () => {
    while (!stopped) {
      try {
        await pollOnce();
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
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
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

async function endpointOf(client: DynamoDBClient): Promise<string | undefined> {
  const endpoint = await client.config.endpoint?.();
  if (!endpoint) return process.env.AWS_ENDPOINT_URL_DYNAMODB;
  return `${endpoint.protocol}//${endpoint.hostname}${endpoint.port ? `:${endpoint.port}` : ''}${endpoint.path}`;
}
