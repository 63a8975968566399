import { randomUUID } from 'node:crypto';
import type { EventBridgeEvent } from 'aws-lambda';
import { matchesPattern } from '#local/event-pattern';
import { AwsError, type LocalService, unknownOperation } from '#local/local-service';

/** A full event as EventBridge delivers it to a target. */
export type BusEvent = EventBridgeEvent<string, unknown>;

/** A rule of the local bus: events matching `pattern` are delivered to `target`. */
export interface EventRule {
  name: string;
  /** Name of the bus (default "default"). */
  eventBusName?: string;
  pattern: object;
  target: (event: BusEvent) => Promise<void>;
  /** Extra deliveries after a target throws (default 2), with exponential backoff. */
  retryAttempts?: number;
  /** Receives an event whose deliveries all failed; by default it is logged. */
  deadLetter?: (event: BusEvent, error: unknown) => void;
}

export interface LocalEventBridgeOptions {
  account?: string;
  region?: string;
  /** First pause before a retried delivery (default 100 ms), doubled on each retry. */
  retryDelayMs?: number;
}

/** Fault injection: an event (and the rule it would go to) that must not be delivered. */
export type DropPredicate = (event: BusEvent, rule: EventRule) => boolean;

const DEFAULT_BUS = 'default';
const MAX_ENTRIES = 10;

interface PutEventsEntry {
  Source?: unknown;
  DetailType?: unknown;
  Detail?: unknown;
  EventBusName?: unknown;
  Resources?: unknown;
  Time?: unknown;
}

type EntryResult = { EventId: string } | { ErrorCode: string; ErrorMessage: string };

/**
 * A local EventBridge: PutEvents over the AWS protocol and `publish` for in-process emitters (the
 * local SSM's command status events). Delivery is asynchronous and at least once: a target that throws
 * is retried a bounded number of times, then the event goes to the rule's dead letter.
 */
export class LocalEventBridge implements LocalService {
  readonly account: string;
  readonly region: string;
  private readonly retryDelayMs: number;
  private readonly rules = new Map<string, EventRule>();
  private readonly dropPredicates = new Set<DropPredicate>();
  private readonly deliveries = new Set<Promise<void>>();
  private readonly retryPauses = new Map<NodeJS.Timeout, () => void>();
  private closed = false;

  constructor(options: LocalEventBridgeOptions = {}) {
    this.account = options.account ?? '000000000000';
    this.region = options.region ?? process.env.AWS_REGION ?? 'us-east-1';
    this.retryDelayMs = options.retryDelayMs ?? 100;
  }

  /** Adds (or replaces, by bus and name) a rule; returns a function that removes it. */
  addRule(rule: EventRule): () => void {
    const key = ruleKey(rule.eventBusName ?? DEFAULT_BUS, rule.name);
    this.rules.set(key, rule);
    return () => {
      if (this.rules.get(key) === rule) this.rules.delete(key);
    };
  }

  /** Suppresses delivery of the events `predicate` selects; returns a function that lifts it. */
  drop(predicate: DropPredicate): () => void {
    this.dropPredicates.add(predicate);
    return () => this.dropPredicates.delete(predicate);
  }

  /** Puts a complete event on a bus, as an AWS service does (no source restriction). */
  publish(event: BusEvent, eventBusName: string = DEFAULT_BUS): void {
    if (this.closed) return;
    const busName = busNameOf(eventBusName);
    for (const rule of this.rules.values()) {
      if ((rule.eventBusName ?? DEFAULT_BUS) !== busName) continue;
      if (!matchesPattern(rule.pattern, event)) continue;
      if ([...this.dropPredicates].some((predicate) => predicate(event, rule))) continue;
      this.track(this.deliver(rule, event));
    }
  }

  /** Resolves once no delivery (including pending retries) is in progress. */
  async idle(): Promise<void> {
    while (this.deliveries.size > 0) await Promise.allSettled([...this.deliveries]);
  }

  /** Stops delivering: pending retries are abandoned. */
  close(): void {
    this.closed = true;
    for (const [timer, resume] of this.retryPauses) {
      clearTimeout(timer);
      resume();
    }
    this.retryPauses.clear();
  }

  async handle(operation: string, input: unknown): Promise<unknown> {
    if (operation === 'PutEvents') return this.putEvents(input);
    throw unknownOperation(`AWSEvents.${operation}`);
  }

  private putEvents(input: unknown): { FailedEntryCount: number; Entries: EntryResult[] } {
    const entries = (input as { Entries?: unknown } | null)?.Entries;
    if (!Array.isArray(entries) || entries.length < 1 || entries.length > MAX_ENTRIES) {
      throw new AwsError('ValidationException', `Entries must hold between 1 and ${MAX_ENTRIES} entries`);
    }
    const results = entries.map((entry: PutEventsEntry): EntryResult => {
      const checked = this.toEvent(entry ?? {});
      if ('ErrorCode' in checked) return checked;
      this.publish(checked.event, typeof entry.EventBusName === 'string' ? entry.EventBusName : DEFAULT_BUS);
      return { EventId: checked.event.id };
    });
    return {
      FailedEntryCount: results.filter((result) => 'ErrorCode' in result).length,
      Entries: results,
    };
  }

  private toEvent(entry: PutEventsEntry): { event: BusEvent } | { ErrorCode: string; ErrorMessage: string } {
    for (const field of ['Source', 'DetailType', 'Detail'] as const) {
      const value = entry[field];
      if (typeof value !== 'string' || value.length === 0) {
        return {
          ErrorCode: 'InvalidArgument',
          ErrorMessage: `Parameter ${field} is not valid. Reason: ${field} is a required argument.`,
        };
      }
    }
    const source = entry.Source as string;
    if (source.startsWith('aws.')) {
      return { ErrorCode: 'NotAuthorizedForSourceException', ErrorMessage: 'Not authorized for the source.' };
    }
    let detail: unknown;
    try {
      detail = JSON.parse(entry.Detail as string);
    } catch {
      detail = undefined;
    }
    if (typeof detail !== 'object' || detail === null || Array.isArray(detail)) {
      return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
    }
    const time = typeof entry.Time === 'number' ? new Date(entry.Time * 1000) : new Date();
    const resources = Array.isArray(entry.Resources) ? entry.Resources.map(String) : [];
    return {
      event: {
        version: '0',
        id: randomUUID(),
        'detail-type': entry.DetailType as string,
        source,
        account: this.account,
        time: eventTime(time),
        region: this.region,
        resources,
        detail,
      },
    };
  }

  private async deliver(rule: EventRule, event: BusEvent): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    const retries = rule.retryAttempts ?? 2;
    let lastError: unknown;
    for (let attempt = 0; attempt <= retries; attempt += 1) {
      if (this.closed) return;
      try {
        await rule.target(structuredClone(event));
        return;
      } catch (error) {
        lastError = error;
      }
      if (attempt < retries) await this.pause(this.retryDelayMs * 2 ** attempt);
    }
    if (this.closed) return;
    try {
      if (rule.deadLetter) rule.deadLetter(event, lastError);
      else
        console.error(`Local EventBridge: rule ${rule.name} could not deliver event ${event.id}`, lastError);
    } catch (error) {
      console.error(`Local EventBridge: the dead letter of rule ${rule.name} failed`, error);
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.retryPauses.delete(timer);
        resolve();
      }, ms);
      this.retryPauses.set(timer, resolve);
    });
  }

  private track(delivery: Promise<void>): void {
    this.deliveries.add(delivery);
    void delivery.finally(() => this.deliveries.delete(delivery));
  }
}

function ruleKey(busName: string, ruleName: string): string {
  return `${busNameOf(busName)}\u0000${ruleName}`;
}

/** A bus is named by its name or its ARN (`arn:aws:events:<region>:<account>:event-bus/<name>`). */
function busNameOf(nameOrArn: string): string {
  const marker = ':event-bus/';
  const index = nameOrArn.indexOf(marker);
  return index >= 0 ? nameOrArn.slice(index + marker.length) : nameOrArn;
}

/** EventBridge's `time`: ISO 8601 to the second. */
function eventTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
