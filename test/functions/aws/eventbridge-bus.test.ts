import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { EventBridgeBus } from '../../../functions/aws/eventbridge-bus.ts';

const client = new EventBridgeClient({});
const eventsMock = mockClient(client);
const bus = new EventBridgeBus(client);

beforeEach(() => eventsMock.reset());

describe('EventBridgeBus', () => {
  it('puts the events in one call and answers how many EventBridge refused', async () => {
    eventsMock.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [{ EventId: 'e' }, {}] });

    const result = await bus.put([
      { busName: 'bus', source: 's', detailType: 'A', detail: '{"a":1}', resources: ['arn:x'] },
      { busName: 'bus', source: 's', detailType: 'B', detail: '{}' },
    ]);

    expect(result).toEqual({ failedCount: 1 });
    expect(eventsMock.commandCalls(PutEventsCommand)[0]!.args[0].input).toEqual({
      Entries: [
        { EventBusName: 'bus', Source: 's', DetailType: 'A', Detail: '{"a":1}', Resources: ['arn:x'] },
        { EventBusName: 'bus', Source: 's', DetailType: 'B', Detail: '{}' },
      ],
    });
  });

  it('answers 0 refused when EventBridge reports no count', async () => {
    eventsMock.on(PutEventsCommand).resolves({});

    await expect(bus.put([{ busName: 'bus', source: 's', detailType: 'A', detail: '{}' }])).resolves.toEqual({
      failedCount: 0,
    });
  });
});
