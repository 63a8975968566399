import { DynamoDBClient, paginateScan } from '@aws-sdk/client-dynamodb';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostRestartsOf, scheduledRestartInput } from '../../functions/core/scheduled-restart.ts';
import { functionName, type LocalSystem } from '../../local/local-system.ts';
import { startTestSystem } from '../support/local-client.ts';

/** A schedule larger than one sequential Lambda invocation could restart in 30 s. */
const HOSTS = 120;
const hostIds = Array.from({ length: HOSTS }, (_, i) => i + 1);
const RUN_ID = 'c0ffee00-0000-4000-8000-000000000120';

let system: LocalSystem;
let dynamodb: DynamoDBClient;
let lambda: LambdaClient;
let sqs: SQSClient;

beforeAll(async () => {
  system = await startTestSystem({ demoHosts: HOSTS, demoMode: 'fast' });
  // Who gets a task is what this file checks; the restarts themselves are checked elsewhere. With the
  // hosts offline their commands wait undelivered, so two cores are not spent on 600 host scripts.
  for (const host of system.hosts) system.offlineInstances.add(host.instanceId);
  dynamodb = new DynamoDBClient({});
  lambda = new LambdaClient({});
  sqs = new SQSClient({});
});

afterAll(async () => {
  for (const client of [dynamodb, lambda, sqs]) client?.destroy();
  await system?.stop();
});

/** The schedule's tasks by host, read from the task table. */
async function scheduledTasksByHost(): Promise<Map<number, { id: number; status: string }[]>> {
  const byHost = new Map<number, { id: number; status: string }[]>();
  for await (const page of paginateScan({ client: dynamodb }, { TableName: system.tables.taskTable })) {
    for (const item of (page.Items ?? []).map((raw) => unmarshall(raw))) {
      if (item.sk !== 'TASK' || item.type !== 'SCHEDULED') continue;
      const tasks = byHost.get(Number(item.host)) ?? [];
      tasks.push({ id: Number(item.id), status: String(item.status) });
      byHost.set(Number(item.host), tasks);
    }
  }
  return byHost;
}

const runSchedule = async () => {
  const result = await lambda.send(
    new InvokeCommand({
      FunctionName: functionName('restartTrigger'),
      Payload: JSON.stringify(scheduledRestartInput(hostIds, RUN_ID, 'fleet')),
    }),
  );
  return JSON.parse(new TextDecoder().decode(result.Payload));
};

describe(`a schedule run over ${HOSTS} hosts`, () => {
  it('gives every host exactly one task, started through the scheduled-restarts queue', async () => {
    expect(await runSchedule()).toEqual({ outcome: 'QUEUED', runId: RUN_ID, hosts: HOSTS });

    // Every message handled and deleted (a failed one would stay in flight, then come back).
    await system.scheduledRestarts.idle(60_000);

    const byHost = await scheduledTasksByHost();
    expect([...byHost.keys()].sort((a, b) => a - b)).toEqual(hostIds);
    expect([...byHost.values()].filter((tasks) => tasks.length !== 1)).toEqual([]);
    expect(system.sqs.messages(system.queues.triggerDeadLetter)).toEqual([]);
  });

  it('creates no second task when the run, or a batch of its messages, is delivered again', async () => {
    const before = await scheduledTasksByHost();
    // Scheduler (or Lambda's async retry) delivers the run again: every host is queued a second time.
    expect(await runSchedule()).toEqual({ outcome: 'QUEUED', runId: RUN_ID, hosts: HOSTS });
    // And SQS delivers one batch of messages twice more, as an at-least-once queue may.
    const batch = hostRestartsOf(
      scheduledRestartInput(hostIds.slice(0, 10), RUN_ID, 'fleet').scheduledRestart,
    );
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: system.queues.scheduledRestarts,
        Entries: batch.map((message, index) => ({
          Id: `again-${index}`,
          MessageBody: JSON.stringify(message),
        })),
      }),
    );

    await system.scheduledRestarts.idle();

    const after = await scheduledTasksByHost();
    expect([...after.entries()].map(([host, tasks]) => [host, tasks.map((task) => task.id)])).toEqual(
      [...before.entries()].map(([host, tasks]) => [host, tasks.map((task) => task.id)]),
    );
    expect(system.sqs.messages(system.queues.triggerDeadLetter)).toEqual([]);
  });
});
