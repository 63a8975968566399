import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AttributeValue, DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { loadOrCreateSigningKey, signLocalToken } from '../local/jwt.ts';
import { type LocalSystem, startLocalSystem } from '../local/local-system.ts';
import { sleep } from './stats.ts';

/** How many demo hosts the benchmarks restart: the fleet size of the budget. */
export const BENCH_HOSTS = 200;

/** A task's end as the task table's stream reports it. */
export interface TaskEnd {
  status: string;
  /** The record's endTime (set by the function that ended the task), epoch ms. */
  endTime: number;
}

/** Local mode for benchmarks: demo hosts in fast mode, in-memory DynamoDB, a temporary state dir. */
export interface BenchSystem {
  system: LocalSystem;
  /** Bearer token of an operator with HOST_MANAGER and TASK_VIEWER. */
  token: string;
  /** Ended tasks by id, fed by the task table's stream (no polling of the API). */
  ended: Map<number, TaskEnd>;
  /** Batches and records (all, and of task items) the task table's stream has delivered so far. */
  stream: { batches: number; records: number; taskRecords: number };
  /** Resolves when every task in `taskIds` has ended; fails after the deadline. */
  waitForEnd(taskIds: readonly number[], deadlineMs?: number): Promise<void>;
  restart(hostId: number): Promise<{ status: number; body: RestartAnswer; answeredAt: number }>;
  scanTaskTable(): Promise<Record<string, unknown>[]>;
  stop(): Promise<void>;
}

/** The fields of a restart answer the benchmarks read. */
export interface RestartAnswer {
  successful: boolean;
  status: number;
  duration: number;
  data?: { id: number; hostId: number; executor: string };
  error?: { code: number; message: string };
}

/** How local mode runs the functions (LocalSystemOptions.functionRuntime). */
export type FunctionRuntime = 'instances' | 'in-process';

export async function startBenchSystem(functionRuntime: FunctionRuntime = 'instances'): Promise<BenchSystem> {
  const stateDir = mkdtempSync(join(tmpdir(), 'ocp-bench-'));
  const ended = new Map<number, TaskEnd>();
  const stream = { batches: 0, records: 0, taskRecords: 0 };
  const onStream = async (event: DynamoDBStreamEvent) => {
    stream.batches++;
    stream.records += event.Records.length;
    stream.taskRecords += event.Records.filter((record) => record.dynamodb?.Keys?.sk?.S === 'TASK').length;
    for (const record of event.Records) {
      const image = record.dynamodb?.NewImage;
      if (image?.sk?.S !== 'TASK' || !image.status?.S || image.status.S === 'RUNNING') continue;
      const endTime = Date.parse(image.endTime?.S ?? '');
      ended.set(Number(image.id?.N), { status: image.status.S, endTime });
    }
  };
  let system: LocalSystem;
  try {
    system = await startLocalSystem({
      stateDir,
      persist: false,
      apiPort: 0,
      demoHosts: BENCH_HOSTS,
      demoMode: 'fast',
      streamConsumers: [onStream],
      functionRuntime,
    });
  } catch (error) {
    rmSync(stateDir, { recursive: true, force: true });
    throw error;
  }
  const token = await signLocalToken(
    { user: 'bench', permissions: ['HOST_MANAGER', 'HOST_VIEWER', 'TASK_VIEWER'] },
    await loadOrCreateSigningKey(system.signingKeyDir),
  );
  const dynamodb = new DynamoDBClient({ endpoint: system.dynamodbEndpoint });

  return {
    system,
    token,
    ended,
    stream,
    async waitForEnd(taskIds, deadlineMs = 120_000) {
      const deadline = Date.now() + deadlineMs;
      while (taskIds.some((id) => !ended.has(id))) {
        if (Date.now() > deadline) {
          const missing = taskIds.filter((id) => !ended.has(id));
          throw new Error(
            `${missing.length} task(s) did not end within ${deadlineMs} ms: ${missing.slice(0, 5)}`,
          );
        }
        await sleep(10);
      }
    },
    async restart(hostId) {
      const response = await fetch(`${system.apiUrl}/compute/hosts/${hostId}/agent/restart`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
      });
      const body = (await response.json()) as RestartAnswer;
      return { status: response.status, body, answeredAt: Date.now() };
    },
    async scanTaskTable() {
      const items: Record<string, unknown>[] = [];
      let startKey: Record<string, AttributeValue> | undefined;
      do {
        const page = await dynamodb.send(
          new ScanCommand({
            TableName: system.tables.taskTable,
            ExclusiveStartKey: startKey,
            ConsistentRead: true,
          }),
        );
        items.push(...(page.Items ?? []).map((item) => unmarshall(item)));
        startKey = page.LastEvaluatedKey;
      } while (startKey);
      return items;
    },
    async stop() {
      dynamodb.destroy();
      try {
        await system.stop();
      } finally {
        rmSync(stateDir, { recursive: true, force: true });
      }
    },
  };
}
