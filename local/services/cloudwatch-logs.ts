import { StringDecoder } from 'node:string_decoder';
import { z } from 'zod';
import { AwsError, type LocalService, unknownOperation } from '#local/local-service';

/** A log event as GetLogEvents returns it. */
export interface LocalLogEvent {
  timestamp: number;
  message: string;
  ingestionTime: number;
}

/**
 * One channel of a command's output as the SSM Agent streams it: each line becomes an event once
 * it is complete, the last one without a line break when the run ends. CloudWatch Logs holds no empty
 * event (PutLogEvents' message has a minimum length of 1), so blank lines are not streamed.
 */
export class StreamedChannel {
  readonly events: LocalLogEvent[] = [];
  private pending = '';
  private readonly decoder = new StringDecoder('utf8');

  write(chunk: Uint8Array): void {
    this.pending += this.decoder.write(chunk);
    const lines = this.pending.split('\n');
    this.pending = lines.pop() ?? '';
    for (const line of lines) this.addLine(line);
  }

  /** The run ended: the partial last line (and `extra`, text the agent writes after it) is streamed. */
  end(extra = ''): void {
    const rest = this.pending + this.decoder.end() + extra;
    this.pending = '';
    for (const line of rest.split('\n')) this.addLine(line);
  }

  addLine(line: string): void {
    if (line === '') return;
    const now = Date.now();
    this.events.push({ timestamp: now, message: line, ingestionTime: now });
  }
}

/** What the local SSM's agent streamed for an invocation: its log group, its step, each channel. */
export interface StreamedInvocation {
  logGroupName: string;
  stepName: string;
  stdout: StreamedChannel;
  stderr: StreamedChannel;
}

const GetLogEventsInput = z
  .object({
    logGroupName: z.string().optional(),
    logGroupIdentifier: z.string().optional(),
    logStreamName: z.string(),
    nextToken: z.string().optional(),
    startFromHead: z.boolean().optional(),
    limit: z.number().optional(),
    startTime: z.number().optional(),
    endTime: z.number().optional(),
  })
  .loose();

const STREAM = /^([^/]+)\/([^/]+)\/([^/]+)\/(stdout|stderr)$/;
/** Tokens name a position between events: `f/<index>/s` forward, `b/<index>/s` backward, as AWS's look. */
const TOKEN = /^([fb])\/(\d{1,12})\/s$/;
/** GetLogEvents' page bounds: 10,000 events, 1 MB (an event counting its message's UTF-8 bytes and 26). */
const MAX_PAGE_EVENTS = 10_000;
const MAX_PAGE_BYTES = 1_048_576;
const EVENT_OVERHEAD_BYTES = 26;

const token = (direction: 'f' | 'b', index: number) => `${direction}/${String(index).padStart(12, '0')}/s`;

/**
 * The CloudWatch Logs reads the product makes: GetLogEvents on the streams the SSM Agent writes a
 * command's output to (`<command id>/<instance id>/<step>/stdout|stderr`), served from what the local
 * SSM's agent has streamed so far. As on AWS, a stream exists only once the agent wrote to it: not
 * when the command asked for no CloudWatch output or the instance's role may not write logs, nor for
 * a channel that printed nothing (yet); reading one that does not exist answers
 * ResourceNotFoundException. Paging follows GetLogEvents' documented contract: pages of at most
 * 10,000 events and 1 MB; the forward token of a read that reached the end is the token passed in
 * (and reads on from there once more events are written); a forward token needs startFromHead.
 */
export class LocalCloudWatchLogs implements LocalService {
  constructor(
    private readonly streamed: (commandId: string, instanceId: string) => StreamedInvocation | undefined,
  ) {}

  async handle(operation: string, input: unknown): Promise<unknown> {
    if (operation !== 'GetLogEvents') throw unknownOperation(`Logs_20140328.${operation}`);
    const parsed = GetLogEventsInput.safeParse(input);
    if (!parsed.success) throw new AwsError('InvalidParameterException', 'logStreamName is required');
    const request = parsed.data;
    if ((request.logGroupName === undefined) === (request.logGroupIdentifier === undefined))
      throw new AwsError(
        'InvalidParameterException',
        'You must specify either logGroupName or logGroupIdentifier, but not both.',
      );
    const events = this.streamEvents(
      request.logGroupName ?? groupNameOf(request.logGroupIdentifier!),
      request.logStreamName,
    ).filter(
      (event) =>
        (request.startTime === undefined || event.timestamp >= request.startTime) &&
        (request.endTime === undefined || event.timestamp < request.endTime),
    );
    const limit = Math.min(request.limit ?? MAX_PAGE_EVENTS, MAX_PAGE_EVENTS);
    const position =
      request.nextToken === undefined ? undefined : parseToken(request.nextToken, events.length);
    if (position?.direction === 'f' && request.startFromHead !== true)
      throw new AwsError(
        'InvalidParameterException',
        'startFromHead must be true when nextToken is a nextForwardToken.',
      );
    const forward = position ? position.direction === 'f' : request.startFromHead === true;
    if (forward) {
      const start = position?.index ?? 0;
      const page = pageForward(events, start, limit);
      const end = start + page.length;
      return {
        events: page,
        // At the end of the stream: the token passed in.
        nextForwardToken: page.length === 0 && request.nextToken ? request.nextToken : token('f', end),
        nextBackwardToken: token('b', start),
      };
    }
    const end = position?.index ?? events.length;
    const page = pageBackward(events, end, limit);
    const start = end - page.length;
    return {
      events: page,
      nextForwardToken: token('f', end),
      nextBackwardToken: page.length === 0 && request.nextToken ? request.nextToken : token('b', start),
    };
  }

  private streamEvents(logGroupName: string, logStreamName: string): LocalLogEvent[] {
    const match = STREAM.exec(logStreamName);
    const streamed = match ? this.streamed(match[1]!, match[2]!) : undefined;
    const channel =
      streamed?.logGroupName === logGroupName && streamed.stepName === match?.[3]
        ? streamed[match[4] as 'stdout' | 'stderr']
        : undefined;
    if (!channel || channel.events.length === 0)
      throw new AwsError('ResourceNotFoundException', 'The specified log stream does not exist.');
    return channel.events;
  }
}

function parseToken(raw: string, eventCount: number): { direction: 'f' | 'b'; index: number } {
  const match = TOKEN.exec(raw);
  const index = match ? Number(match[2]) : Number.NaN;
  if (!match || index > eventCount)
    throw new AwsError('InvalidParameterException', 'The specified nextToken is invalid.');
  return { direction: match[1] as 'f' | 'b', index };
}

/** A log group ARN's name (`arn:…:log-group:<name>[:*]`), or the identifier itself when it is a name. */
function groupNameOf(identifier: string): string {
  const match = /^arn:[^:]+:logs:[^:]*:[^:]*:log-group:([^:]+)(?::\*)?$/.exec(identifier);
  return match ? match[1]! : identifier;
}

const eventBytes = (event: LocalLogEvent) => Buffer.byteLength(event.message) + EVENT_OVERHEAD_BYTES;

function pageForward(events: readonly LocalLogEvent[], start: number, limit: number): LocalLogEvent[] {
  const page: LocalLogEvent[] = [];
  let bytes = 0;
  for (let index = start; index < events.length && page.length < limit; index++) {
    bytes += eventBytes(events[index]!);
    if (bytes > MAX_PAGE_BYTES && page.length > 0) break;
    page.push(events[index]!);
  }
  return page;
}

function pageBackward(events: readonly LocalLogEvent[], end: number, limit: number): LocalLogEvent[] {
  const page: LocalLogEvent[] = [];
  let bytes = 0;
  for (let index = end - 1; index >= 0 && page.length < limit; index--) {
    bytes += eventBytes(events[index]!);
    if (bytes > MAX_PAGE_BYTES && page.length > 0) break;
    page.unshift(events[index]!);
  }
  return page;
}
