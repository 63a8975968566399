import { join } from 'node:path';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient, GetRecordsCommand } from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  pollTableStream,
  type StreamFailureRecord,
  type StreamMappingSettings,
  type StreamPoller,
} from '../../local/dynamodb-stream.ts';
import { FunctionPool } from '../../local/lambda-runtime/function-pool.ts';
import { deferred } from '../../local/promise-with-resolvers.ts';
import { eventually } from '../support/local-client.ts';
import { createTestTables, testDynamoDb } from '../support/test-tables.ts';

const MAPPING: StreamMappingSettings = {
  batchSize: 100,
  retryAttempts: 3,
  reportBatchItemFailures: true,
  bisectBatchOnError: false,
};
const FUNCTION_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:publisher';

let poller: StreamPoller | undefined;

afterEach(async () => {
  await poller?.stop();
  poller = undefined;
  vi.restoreAllMocks();
});

const keyOf = (record: DynamoDBRecord) => record.dynamodb?.Keys?.pk?.S ?? '?';
const sequenceOf = (record: DynamoDBRecord) => record.dynamodb?.SequenceNumber ?? '?';

/**
 * A table whose stream feeds one mapping, and a consumer that answers each batch with `answer`. The
 * records a, b, c reach it as one batch: they are written while it holds the batch of record "gate".
 */
async function streamOf(
  answer: (batch: DynamoDBRecord[], call: number) => unknown,
  settings: Partial<StreamMappingSettings> = {},
) {
  const { taskTable } = await createTestTables();
  const put = (pk: string) =>
    testDynamoDb.send(new PutItemCommand({ TableName: taskTable, Item: { pk: { S: pk }, sk: { S: 'X' } } }));
  const batches: DynamoDBRecord[][] = [];
  const failures: StreamFailureRecord[] = [];
  const gate = deferred<void>();
  let gateHeld = false;
  poller = await pollTableStream(testDynamoDb, taskTable, [
    {
      functionArn: FUNCTION_ARN,
      settings: { ...MAPPING, ...settings },
      consumer: async (event: DynamoDBStreamEvent) => {
        if (event.Records.some((record) => keyOf(record) === 'gate')) {
          gateHeld = true;
          await gate.promise;
          return undefined;
        }
        batches.push(event.Records);
        return answer(event.Records, batches.length);
      },
      onFailure: (record) => {
        failures.push(record);
      },
    },
  ]);
  await put('gate');
  await eventually(() => gateHeld, 'the gate batch');
  for (const pk of ['a', 'b', 'c']) await put(pk);
  gate.resolve();
  return { batches, failures, put, keys: () => batches.map((batch) => batch.map(keyOf)) };
}

describe('the local stream poller, as a DynamoDB event source mapping', () => {
  it('hands records over as Lambda does: the stream ARN on each, the creation time in epoch seconds', async () => {
    const { batches } = await streamOf(() => undefined);

    await eventually(() => batches.length === 1, 'the batch');
    const [record] = batches[0]!;
    expect(record!.eventSourceARN).toMatch(/^arn:aws:dynamodb:.*:table\/tasks-.*\/stream\//);
    expect(record!.dynamodb?.ApproximateCreationDateTime).toBeTypeOf('number');
    expect(Math.abs(record!.dynamodb!.ApproximateCreationDateTime! - Date.now() / 1000)).toBeLessThan(60);
  });

  it('retries a batch whose consumer throws, whole and in order, until it succeeds', async () => {
    const { batches, failures, keys } = await streamOf((_, call) => {
      if (call <= 2) throw new Error('EventBridge is down');
      return { batchItemFailures: [] };
    });

    await eventually(() => batches.length === 3, 'two retries');
    expect(keys()).toEqual([
      ['a', 'b', 'c'],
      ['a', 'b', 'c'],
      ['a', 'b', 'c'],
    ]);
    expect(failures).toEqual([]);
  });

  it('commits the records before the lowest failed one and retries from there', async () => {
    const { batches, keys, put } = await streamOf((batch, call) =>
      call === 1
        ? {
            batchItemFailures: [batch[2], batch[1]].map((record) => ({
              itemIdentifier: sequenceOf(record!),
            })),
          }
        : { batchItemFailures: [] },
    );

    await eventually(() => batches.length === 2, 'the retry');
    await put('d');
    await eventually(() => batches.length === 3, 'the next record');
    expect(keys()).toEqual([['a', 'b', 'c'], ['b', 'c'], ['d']]);
  });

  it('honours the batchItemFailures a function instance answers, across the instance boundary', async () => {
    const consumer = new FunctionPool({
      id: 'publisher',
      functionName: 'publisher',
      functionArn: FUNCTION_ARN,
      bundle: join(__dirname, '..', 'fixtures', 'lambda', 'stream-consumer.mjs'),
      environment: {},
      timeoutSeconds: 10,
      memoryMb: 128,
      maxInstances: 1,
    });
    try {
      const { batches, keys } = await streamOf((batch) => consumer.invoke({ Records: batch }));
      await eventually(() => batches.length === 2, 'the retry from the failed record');
      expect(keys()).toEqual([
        ['a', 'b', 'c'],
        ['b', 'c'],
      ]);
    } finally {
      await consumer.stop();
    }
  });

  it('retries the whole batch when an itemIdentifier is empty or names no record of it', async () => {
    const { batches, keys } = await streamOf((_, call) =>
      call === 1
        ? { batchItemFailures: [{ itemIdentifier: '' }] }
        : call === 2
          ? { batchItemFailures: [{ itemIdentifier: '42' }] }
          : undefined,
    );

    await eventually(() => batches.length === 3, 'two retries');
    expect(keys()).toEqual([
      ['a', 'b', 'c'],
      ['a', 'b', 'c'],
      ['a', 'b', 'c'],
    ]);
  });

  it('ignores batchItemFailures when the mapping does not report them', async () => {
    const { batches, keys, put } = await streamOf(
      (batch) => ({ batchItemFailures: [{ itemIdentifier: sequenceOf(batch[0]!) }] }),
      { reportBatchItemFailures: false },
    );

    await eventually(() => batches.length === 1, 'the batch');
    await put('d');
    await eventually(() => batches.length === 2, 'the next record');
    expect(keys()).toEqual([['a', 'b', 'c'], ['d']]);
  });

  it('after retryAttempts retries, describes the failed part to the on-failure destination, logs it and goes on', async () => {
    const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const { batches, failures, keys, put } = await streamOf((batch) =>
      keyOf(batch[0]!) === 'd'
        ? undefined
        : {
            batchItemFailures: [
              { itemIdentifier: sequenceOf(batch.find((record) => keyOf(record) === 'b')!) },
            ],
          },
    );

    await eventually(() => failures.length === 1, 'the given-up batch');
    await put('d');
    await eventually(() => batches.length === 5, 'the next record');
    expect(keys()).toEqual([['a', 'b', 'c'], ['b', 'c'], ['b', 'c'], ['b', 'c'], ['d']]);
    const [first, failed, last] = batches[0]!;
    expect(failures[0]).toEqual({
      requestContext: {
        requestId: expect.any(String),
        functionArn: FUNCTION_ARN,
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: MAPPING.retryAttempts + 1,
      },
      responseContext: { statusCode: 200, executedVersion: '$LATEST' },
      version: '1.0',
      timestamp: expect.any(String),
      DDBStreamBatchInfo: {
        shardId: expect.any(String),
        startSequenceNumber: sequenceOf(failed!),
        endSequenceNumber: sequenceOf(last!),
        approximateArrivalOfFirstRecord: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
        approximateArrivalOfLastRecord: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
        batchSize: 2,
        streamArn: first!.eventSourceARN,
      },
    });
    expect(logged).toHaveBeenCalledWith(
      expect.stringMatching(
        /^STREAM BATCH GIVEN UP after 4 failed invocation\(s\) of .*publisher: 2 record\(s\)/,
      ),
      expect.anything(),
    );
  });

  it('marks a given-up batch whose consumer threw as a function error', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const { failures } = await streamOf(() => {
      throw new Error('EventBridge is down');
    });

    await eventually(() => failures.length === 1, 'the given-up batch');
    expect(failures[0]).toMatchObject({
      requestContext: { approximateInvokeCount: MAPPING.retryAttempts + 1 },
      responseContext: { functionError: 'Unhandled' },
      DDBStreamBatchInfo: { batchSize: 3 },
    });
  });
});

describe('the local stream poller, with two mappings of one stream', () => {
  async function twoMappings(small: (batch: DynamoDBRecord[], call: number) => unknown) {
    const { taskTable } = await createTestTables();
    const put = (pk: string) =>
      testDynamoDb.send(
        new PutItemCommand({ TableName: taskTable, Item: { pk: { S: pk }, sk: { S: 'X' } } }),
      );
    const batches = { small: [] as string[][], large: [] as string[][] };
    const gate = deferred<void>();
    let gateHeld = false;
    poller = await pollTableStream(testDynamoDb, taskTable, [
      {
        functionArn: `${FUNCTION_ARN}-small`,
        settings: { ...MAPPING, batchSize: 2 },
        consumer: async (event: DynamoDBStreamEvent) => {
          batches.small.push(event.Records.map(keyOf));
          return small(event.Records, batches.small.length);
        },
      },
      {
        functionArn: `${FUNCTION_ARN}-large`,
        settings: MAPPING,
        consumer: async (event: DynamoDBStreamEvent) => {
          batches.large.push(event.Records.map(keyOf));
          if (event.Records.some((record) => keyOf(record) === 'gate')) {
            gateHeld = true;
            await gate.promise;
          }
          return undefined;
        },
      },
    ]);
    return { batches, put, gate, gateHeld: () => gateHeld };
  }

  it('gives each mapping its own batch size and cursor, though they share reads', async () => {
    const { batches, put, gate, gateHeld } = await twoMappings((_, call) => {
      if (call === 2) throw new Error('EventBridge is down');
      return undefined;
    });
    await put('gate');
    await eventually(gateHeld, 'the gate batch');
    for (const pk of ['a', 'b', 'c', 'd', 'e']) await put(pk);
    gate.resolve();

    await eventually(
      () => batches.small.flat().at(-1) === 'e' && batches.large.flat().at(-1) === 'e',
      'every record',
    );
    expect(batches.small).toEqual([['gate'], ['a', 'b'], ['a', 'b'], ['c', 'd'], ['e']]);
    expect(batches.large).toEqual([['gate'], ['a', 'b', 'c', 'd', 'e']]);
  });

  it('reads an idle shard about 4 times a second, once for both mappings', async () => {
    const send = vi.spyOn(DynamoDBStreamsClient.prototype, 'send');
    await twoMappings(() => undefined);
    const before = send.mock.calls.filter(([command]) => command instanceof GetRecordsCommand).length;

    await new Promise((resolve) => setTimeout(resolve, 2_000));

    const reads = send.mock.calls.filter(([command]) => command instanceof GetRecordsCommand).length - before;
    expect(reads).toBeGreaterThan(0);
    // 8 at Lambda's base rate of 4 a second; 16 with a read per mapping, 80 at the former 50 ms.
    expect(reads).toBeLessThanOrEqual(10);
  });
});
