import { type EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { BusEvent, EventBus } from '#use-cases/ports';
import { eventbridge } from './eventbridge.ts';

/** The EventBus port over EventBridge: one PutEvents per call. */
export class EventBridgeBus implements EventBus {
  constructor(private readonly client: EventBridgeClient = eventbridge) {}

  async put(events: readonly BusEvent[]): Promise<{ failedCount: number }> {
    const result = await this.client.send(
      new PutEventsCommand({
        Entries: events.map((event) => ({
          EventBusName: event.busName,
          Source: event.source,
          DetailType: event.detailType,
          Detail: event.detail,
          ...(event.resources ? { Resources: event.resources } : {}),
        })),
      }),
    );
    return { failedCount: result.FailedEntryCount ?? 0 };
  }
}
