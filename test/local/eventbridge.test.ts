import { join } from 'node:path';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type AwsEndpoint, startAwsEndpoint } from '#local/aws-endpoint';
import { FunctionPool } from '#local/lambda-runtime/function-pool';
import { type BusEvent, LocalEventBridge } from '#local/services/eventbridge';
import { eventually, localClientConfig, rejection } from './sfn-test-kit.ts';

describe('LocalEventBridge', () => {
  let bus: LocalEventBridge;
  let endpoint: AwsEndpoint;
  let events: EventBridgeClient;
  let delivered: BusEvent[];

  beforeEach(async () => {
    delivered = [];
    bus = new LocalEventBridge({ account: '123456789012', region: 'us-east-1', retryDelayMs: 5 });
    endpoint = await startAwsEndpoint({ services: { AWSEvents: bus } });
    events = new EventBridgeClient(localClientConfig(endpoint.url));
  });

  afterEach(async () => {
    bus.close();
    events.destroy();
    await endpoint.close();
  });

  const collect = (name: string, pattern: object, eventBusName?: string) =>
    bus.addRule({
      name,
      eventBusName,
      pattern,
      target: async (event) => {
        delivered.push(event);
      },
    });

  it('delivers a put event, in full, to the rules whose pattern it matches', async () => {
    collect('orders', { source: ['test.orders'], detail: { total: [{ numeric: ['>', 10] }] } });
    collect('others', { source: ['test.other'] });

    const output = await events.send(
      new PutEventsCommand({
        Entries: [
          {
            Source: 'test.orders',
            DetailType: 'Order placed',
            Detail: JSON.stringify({ total: 42 }),
            Resources: ['arn:aws:test:::order/1'],
            Time: new Date('2024-05-01T10:00:00.000Z'),
          },
        ],
      }),
    );
    const event = await eventually(() => delivered[0], 'the delivery');
    await bus.idle();

    expect(output.FailedEntryCount).toBe(0);
    expect(event).toEqual({
      version: '0',
      id: output.Entries?.[0]?.EventId,
      'detail-type': 'Order placed',
      source: 'test.orders',
      account: '123456789012',
      time: '2024-05-01T10:00:00Z',
      region: 'us-east-1',
      resources: ['arn:aws:test:::order/1'],
      detail: { total: 42 },
    });
    expect(delivered).toHaveLength(1);
  });

  it('returns from PutEvents before the targets run', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    bus.addRule({ name: 'slow', pattern: { source: ['test.slow'] }, target: () => gate });

    const output = await events.send(
      new PutEventsCommand({ Entries: [{ Source: 'test.slow', DetailType: 'Slow', Detail: '{}' }] }),
    );
    release();
    await bus.idle();

    expect(output.FailedEntryCount).toBe(0);
  });

  it('reports invalid entries one by one, as AWS does', async () => {
    const output = await events.send(
      new PutEventsCommand({
        Entries: [
          { Source: 'test.a', Detail: '{}' },
          { Source: 'test.b', DetailType: 'B', Detail: '[1, 2]' },
          { Source: 'aws.ssm', DetailType: 'C', Detail: '{}' },
          { Source: 'test.d', DetailType: 'D', Detail: '{"ok":true}' },
        ],
      }),
    );

    expect(output.FailedEntryCount).toBe(3);
    expect(output.Entries?.map((entry) => entry.ErrorCode)).toEqual([
      'InvalidArgument',
      'MalformedDetail',
      'NotAuthorizedForSourceException',
      undefined,
    ]);
    expect(output.Entries?.[3]?.EventId).toEqual(expect.any(String));
  });

  it('refuses a request without entries', async () => {
    const error = await rejection(events.send(new PutEventsCommand({ Entries: [] })));

    expect(error.name).toBe('ValidationException');
  });

  it('keeps buses apart', async () => {
    collect('on-custom', { source: ['test.bus'] }, 'custom');

    await events.send(
      new PutEventsCommand({
        Entries: [{ Source: 'test.bus', DetailType: 'X', Detail: '{"bus":"default"}' }],
      }),
    );
    await events.send(
      new PutEventsCommand({
        Entries: [
          {
            Source: 'test.bus',
            DetailType: 'X',
            Detail: '{"bus":"custom"}',
            EventBusName: 'arn:aws:events:us-east-1:123456789012:event-bus/custom',
          },
        ],
      }),
    );
    await eventually(() => delivered[0], 'the delivery');
    await bus.idle();

    expect(delivered.map((event) => event.detail)).toEqual([{ bus: 'custom' }]);
  });

  it('retries a failing target, then hands the event to the dead letter', async () => {
    let attempts = 0;
    const deadLetters: { event: BusEvent; error: unknown }[] = [];
    bus.addRule({
      name: 'broken',
      pattern: { source: ['test.broken'] },
      retryAttempts: 2,
      target: async () => {
        attempts += 1;
        throw new Error('target down');
      },
      deadLetter: (event, error) => deadLetters.push({ event, error }),
    });

    bus.publish({
      version: '0',
      id: 'event-1',
      'detail-type': 'Broken',
      source: 'test.broken',
      account: '123456789012',
      time: '2024-05-01T10:00:00Z',
      region: 'us-east-1',
      resources: [],
      detail: {},
    });
    const dead = await eventually(() => deadLetters[0], 'the dead letter');

    expect(attempts).toBe(3);
    expect(dead.event.id).toBe('event-1');
    expect((dead.error as Error).message).toBe('target down');
  });

  it('retries a function target whose instance fails, then dead-letters the event with the function’s error', async () => {
    const target = new FunctionPool({
      id: 'trigger',
      functionName: 'trigger',
      functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:trigger',
      bundle: join(__dirname, '..', 'fixtures', 'lambda', 'instance-probe.mjs'),
      environment: {},
      timeoutSeconds: 10,
      memoryMb: 128,
      maxInstances: 1,
    });
    const deadLetters: { event: BusEvent; error: unknown }[] = [];
    try {
      bus.addRule({
        name: 'function',
        pattern: { source: ['test.function'] },
        retryAttempts: 2,
        target: async (event) => {
          await target.invoke(event.detail);
        },
        deadLetter: (event, error) => deadLetters.push({ event, error }),
      });
      bus.publish({
        version: '0',
        id: 'event-2',
        'detail-type': 'Function',
        source: 'test.function',
        account: '123456789012',
        time: '2024-05-01T10:00:00Z',
        region: 'us-east-1',
        resources: [],
        detail: { action: 'fail', name: 'InvalidRequest', message: 'hostId is missing' },
      });
      const dead = await eventually(() => deadLetters[0], 'the dead letter');

      expect(target.stats()).toMatchObject({ invocations: 3, coldStarts: 1 });
      expect(dead.event.id).toBe('event-2');
      expect(dead.error).toMatchObject({ name: 'InvalidRequest', message: 'hostId is missing' });
    } finally {
      await target.stop();
    }
  });

  it('delivers at least once: a target that fails once gets the event again', async () => {
    let attempts = 0;
    bus.addRule({
      name: 'flaky',
      pattern: { source: ['test.flaky'] },
      target: async (event) => {
        attempts += 1;
        if (attempts === 1) throw new Error('not yet');
        delivered.push(event);
      },
    });

    await events.send(
      new PutEventsCommand({ Entries: [{ Source: 'test.flaky', DetailType: 'F', Detail: '{}' }] }),
    );
    await eventually(() => delivered[0], 'the second delivery');

    expect(attempts).toBe(2);
  });

  it('lets in-process AWS emitters publish aws.* events, and drops events a fault injector selects', async () => {
    collect('ssm', { source: ['aws.ssm'] });
    const lift = bus.drop((event) => (event.detail as { status?: string }).status === 'Failed');
    const ssmEvent = (status: string): BusEvent => ({
      version: '0',
      id: `event-${status}`,
      'detail-type': 'EC2 Command Invocation Status-change Notification',
      source: 'aws.ssm',
      account: '123456789012',
      time: '2024-05-01T10:00:00Z',
      region: 'us-east-1',
      resources: [],
      detail: { status },
    });

    bus.publish(ssmEvent('Failed'));
    bus.publish(ssmEvent('Success'));
    await eventually(() => delivered[0], 'the delivery');
    lift();
    bus.publish(ssmEvent('Failed'));
    await bus.idle();

    expect(delivered.map((event) => event.id)).toEqual(['event-Success', 'event-Failed']);
  });
});
