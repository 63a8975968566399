import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { eventbridge } from '../../functions/aws/eventbridge.ts';
import { taskStatusChangePattern } from '../../functions/core/event-patterns.ts';
import { TASK_STREAM_MAPPING } from '../../functions/store/table-schema.ts';
import { functionName, type LocalSystem } from '../../local/local-system.ts';
import type { BusEvent } from '../../local/services/eventbridge.ts';
import { call, eventually, startTestSystem, tokenFor, waitForTask } from '../support/local-client.ts';
import { FaultInjector } from './support/sdk-faults.ts';

/**
 * The task stream's mapping in local mode is the stack's: when publish-task-events cannot publish,
 * its batch is retried TASK_STREAM_MAPPING.retryAttempts times, then described to the failed-batches
 * queue (the stack's on-failure destination) and skipped, and the stream goes on.
 */

let system: LocalSystem;
let faults: FaultInjector;
let token: string;
const published: BusEvent[] = [];

beforeAll(async () => {
  // The faults are injected into the handlers' own SDK clients: the handlers run in this process.
  system = await startTestSystem({ demoHosts: 2, demoMode: 'fast', functionRuntime: 'in-process' });
  faults = new FaultInjector([eventbridge]);
  token = await tokenFor(system, 'ops', ['HOST_MANAGER', 'TASK_VIEWER']);
  system.eventBridge.addRule({
    name: 'test-subscriber',
    eventBusName: system.eventBusName,
    pattern: taskStatusChangePattern(),
    target: async (event) => {
      published.push(event);
    },
  });
});

afterAll(async () => {
  faults?.detach();
  await system?.stop();
});

const statusEventsOf = (taskId: number) =>
  published.filter((event) => (event.detail as { taskId?: number }).taskId === taskId);
const failedBatches = () =>
  system.sqs.messages(system.queues.failedStreamBatches).map((message) => JSON.parse(message.Body));

describe('publishing task status changes while EventBridge refuses them', () => {
  it('retries each batch as the stack’s mapping does, then keeps it in the failed-batches queue and goes on', async () => {
    const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    faults.arm({ kind: 'denied', operations: ['PutEvents'], attempts: Number.POSITIVE_INFINITY });
    let refusedTask: number;
    try {
      const { envelope } = await call(system, 'POST', '/compute/hosts/1/agent/restart', token);
      refusedTask = envelope.data.id;
      expect((await waitForTask(system, token, refusedTask)).status).toBe('SUCCESSFUL');
      await eventually(() => failedBatches().length > 0, 'a batch in the failed-batches queue', 30_000);
      expect(logged).toHaveBeenCalledWith(expect.stringMatching(/^STREAM BATCH GIVEN UP/), expect.anything());
    } finally {
      faults.disarm();
      logged.mockRestore();
    }

    expect(failedBatches()[0]).toMatchObject({
      requestContext: {
        condition: 'RetryAttemptsExhausted',
        functionArn: expect.stringMatching(new RegExp(`:function:${functionName('publishTaskEvents')}$`)),
        approximateInvokeCount: TASK_STREAM_MAPPING.retryAttempts + 1,
      },
      DDBStreamBatchInfo: { streamArn: expect.stringContaining(`table/${system.tables.taskTable}/stream/`) },
    });

    const { envelope } = await call(system, 'POST', '/compute/hosts/2/agent/restart', token);
    await waitForTask(system, token, envelope.data.id);
    await system.drainStream();
    await eventually(
      () =>
        statusEventsOf(envelope.data.id).some(
          (event) => (event.detail as { status?: string }).status === 'SUCCESSFUL',
        ),
      'the next task’s status events',
    );
  });
});
