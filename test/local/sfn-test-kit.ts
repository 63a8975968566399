import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  type SFNClient,
} from '@aws-sdk/client-sfn';

/** Client settings for the local endpoint: explicit endpoint, us-east-1, dummy credentials, no retries. */
export function localClientConfig(url: string) {
  return {
    endpoint: url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  };
}

/** Polls `probe` until it returns a value other than undefined, failing after `timeoutMs`. */
export async function eventually<T>(
  probe: () => T | undefined | Promise<T | undefined>,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Polls DescribeExecution until the execution leaves RUNNING. */
export function terminalExecution(
  client: SFNClient,
  executionArn: string,
  timeoutMs = 10_000,
): Promise<DescribeExecutionCommandOutput> {
  return eventually(
    async () => {
      const described = await client.send(new DescribeExecutionCommand({ executionArn }));
      const running = described.status === 'RUNNING' || described.status === 'PENDING_REDRIVE';
      return running ? undefined : described;
    },
    `${executionArn} to end`,
    timeoutMs,
  );
}

/** The whole history of an execution, oldest first. */
export async function historyOf(client: SFNClient, executionArn: string): Promise<HistoryEvent[]> {
  const { events = [] } = await client.send(
    new GetExecutionHistoryCommand({ executionArn, maxResults: 1000 }),
  );
  return events;
}

/** Names of the states entered, in order. */
export function statesEntered(events: HistoryEvent[]): string[] {
  return events.flatMap((event) =>
    event.stateEnteredEventDetails?.name ? [event.stateEnteredEventDetails.name] : [],
  );
}

/** Asserts that a promise rejects and returns the error, to check its `name`. */
export async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('Expected the call to fail');
}
