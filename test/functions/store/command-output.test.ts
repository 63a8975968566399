import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgument } from '../../../functions/core/errors.ts';
import { type AwsEndpoint, startAwsEndpoint } from '../../../local/aws-endpoint.ts';
import {
  LocalCloudWatchLogs,
  StreamedChannel,
  type StreamedInvocation,
} from '../../../local/services/cloudwatch-logs.ts';

const GROUP = '/test/command-output';
const COMMAND = { commandId: '33333333-3333-4333-8333-333333333333', instanceId: 'mi-00000000000000001' };
const STDOUT = `${COMMAND.commandId}/${COMMAND.instanceId}/stopAgent/stdout`;
const utf8 = new TextEncoder();

let endpoint: AwsEndpoint;
let streamed: StreamedInvocation;
let readLiveChannel: typeof import('../../../functions/store/command-output.ts').readLiveChannel;

beforeAll(async () => {
  endpoint = await startAwsEndpoint({
    services: {
      Logs_20140328: new LocalCloudWatchLogs((commandId, instanceId) =>
        commandId === COMMAND.commandId && instanceId === COMMAND.instanceId ? streamed : undefined,
      ),
    },
  });
  // The module's client reads its endpoint from the standard SDK configuration when it loads.
  process.env.AWS_ENDPOINT_URL_CLOUDWATCH_LOGS = endpoint.url;
  ({ readLiveChannel } = await import('../../../functions/store/command-output.ts'));
});

afterAll(async () => {
  await endpoint?.close();
});

function stream(text: string) {
  streamed = {
    logGroupName: GROUP,
    stepName: 'stopAgent',
    stdout: new StreamedChannel(),
    stderr: new StreamedChannel(),
  };
  streamed.stdout.write(utf8.encode(text));
}

describe('readLiveChannel', () => {
  it('reads a running stream from its head, page after page, to the token CloudWatch Logs repeats', async () => {
    const lines = Array.from({ length: 10_005 }, (_, index) => `line ${index}`);
    stream(`${lines.join('\n')}\n`);

    const read = await readLiveChannel(GROUP, STDOUT, { lines: 0 });

    expect(read.lines).toEqual(lines);
    expect(read.next).toEqual({ token: expect.any(String), lines: 10_005 });
  });

  it('reads on from its position only what was written since, and nothing while nothing was', async () => {
    stream('one\n');
    const first = await readLiveChannel(GROUP, STDOUT, { lines: 0 });
    const still = await readLiveChannel(GROUP, STDOUT, first.next);
    streamed.stdout.write(utf8.encode('two\nthree\n'));
    const next = await readLiveChannel(GROUP, STDOUT, still.next);

    expect([first.lines, still.lines, next.lines]).toEqual([['one'], [], ['two', 'three']]);
    expect(still.next).toEqual(first.next);
    expect(next.next.lines).toBe(3);
  });

  it('stops at its budget and goes on from there on the next read', async () => {
    stream(`${'a'.repeat(100)}\n${'b'.repeat(100)}\n`);
    const spent = await readLiveChannel(GROUP, STDOUT, { lines: 0 }, 50);
    expect(spent.lines).toEqual(['a'.repeat(100), 'b'.repeat(100)]);

    streamed.stdout.write(utf8.encode('c\n'));
    expect((await readLiveChannel(GROUP, STDOUT, spent.next, 50)).lines).toEqual(['c']);
  });

  it('finds nothing yet in a stream the agent has not created', async () => {
    stream('');
    expect(await readLiveChannel(GROUP, STDOUT, { lines: 0 })).toEqual({ lines: [], next: { lines: 0 } });
  });

  it('refuses the cursor when CloudWatch Logs refuses its token', async () => {
    stream('one\n');
    const refused = readLiveChannel(GROUP, STDOUT, { token: 'f/000000000099/s', lines: 99 });
    await expect(refused).rejects.toThrow(InvalidArgument);
    await expect(refused).rejects.toMatchObject({ target: 'cursor' });
  });
});
