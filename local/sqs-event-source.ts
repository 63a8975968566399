import type { SQSEvent, SQSRecord } from 'aws-lambda';
import type { LocalSqs, ReceivedMessage } from './services/sqs.ts';

export interface SqsEventSourceOptions {
  sqs: LocalSqs;
  queueUrl: string;
  queueArn: string;
  region: string;
  /** The function, invoked with each batch; with ReportBatchItemFailures its answer is read. */
  handler: (event: SQSEvent) => Promise<unknown>;
  /** Messages per invocation (the mapping's BatchSize). */
  batchSize: number;
  /** Invocations under way at once (the mapping's ScalingConfig.MaximumConcurrency). */
  maxConcurrency: number;
}

export interface SqsEventSource {
  /**
   * Resolves once the queue has no message left, visible or in flight (so no invocation is under
   * way); rejects if that has not happened within `deadlineMs`.
   */
  idle(deadlineMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** How often an empty queue is polled (Lambda long-polls; this stands in for the wait). */
const POLL_MS = 50;

/**
 * Local equivalent of Lambda's SQS event source mapping with ReportBatchItemFailures: receives
 * batches (hiding them for the queue's visibility timeout), invokes the function, and deletes the
 * messages it handled. A thrown error deletes nothing; an answer naming messages in batchItemFailures
 * deletes the others; an answer whose failures name no message of the batch (or an empty, missing or
 * mistyped itemIdentifier) fails the whole batch. What is not deleted comes back after the visibility
 * timeout, and SQS's redrive policy dead-letters it after maxReceiveCount receipts.
 */
export function startSqsEventSource(options: SqsEventSourceOptions): SqsEventSource {
  const { sqs, queueUrl, batchSize, maxConcurrency } = options;
  let stopped = false;
  const sleep = () => new Promise<void>((resolve) => setTimeout(resolve, POLL_MS));

  async function poll(): Promise<void> {
    while (!stopped) {
      const messages = sqs.receive(queueUrl, batchSize);
      if (messages.length === 0) {
        await sleep();
        continue;
      }
      const handled = await invoke(messages);
      for (const message of handled) sqs.delete(queueUrl, message.ReceiptHandle);
      // An invocation is never synchronous on Lambda: let timers and I/O run between batches.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  async function invoke(messages: ReceivedMessage[]): Promise<ReceivedMessage[]> {
    let answer: unknown;
    try {
      answer = await options.handler({ Records: messages.map((message) => record(message, options)) });
    } catch (error) {
      console.error(`${functionLabel(options)} failed on a batch of ${messages.length}:`, error);
      return [];
    }
    const failed = failedMessageIds(answer, messages);
    if (failed === 'all') {
      console.error(`${functionLabel(options)} answered batchItemFailures that name no message of the batch`);
      return [];
    }
    return messages.filter((message) => !failed.has(message.MessageId));
  }

  const pollers = Array.from({ length: maxConcurrency }, () => poll());
  return {
    idle: async (deadlineMs = 30_000) => {
      const deadline = Date.now() + deadlineMs;
      for (;;) {
        const { visible, inFlight } = sqs.counts(queueUrl);
        if (visible === 0 && inFlight === 0) return;
        if (stopped || Date.now() > deadline)
          throw new Error(`${queueUrl} still holds ${visible} visible and ${inFlight} in-flight messages`);
        await sleep();
      }
    },
    stop: async () => {
      stopped = true;
      await Promise.all(pollers);
    },
  };
}

/** Which messages the function reported failed, or 'all' when its answer fails the whole batch. */
export function failedMessageIds(answer: unknown, messages: readonly ReceivedMessage[]): Set<string> | 'all' {
  if (answer === null || answer === undefined || typeof answer !== 'object') return new Set();
  const failures = (answer as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === null || failures === undefined) return new Set();
  if (!Array.isArray(failures)) return 'all';
  const ids = new Set(messages.map((message) => message.MessageId));
  const failed = new Set<string>();
  for (const failure of failures) {
    const id = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'string' || !ids.has(id)) return 'all';
    failed.add(id);
  }
  return failed;
}

function record(message: ReceivedMessage, options: SqsEventSourceOptions): SQSRecord {
  return {
    messageId: message.MessageId,
    receiptHandle: message.ReceiptHandle,
    body: message.Body,
    attributes: {
      ApproximateReceiveCount: String(message.ReceiveCount),
      SentTimestamp: String(message.SentTimestamp),
      SenderId: 'local',
      ApproximateFirstReceiveTimestamp: String(message.FirstReceiveTimestamp),
    },
    messageAttributes: {},
    md5OfBody: message.MD5OfBody,
    eventSource: 'aws:sqs',
    eventSourceARN: options.queueArn,
    awsRegion: options.region,
  };
}

function functionLabel(options: SqsEventSourceOptions): string {
  return `The consumer of ${options.queueArn.split(':').at(-1)}`;
}
