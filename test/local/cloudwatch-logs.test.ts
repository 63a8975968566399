import { CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AwsEndpoint, startAwsEndpoint } from '#local/aws-endpoint';
import {
  LocalCloudWatchLogs,
  StreamedChannel,
  type StreamedInvocation,
} from '#local/services/cloudwatch-logs';

const GROUP = '/test/command-output';
const STREAMED = { commandId: '11111111-1111-4111-8111-111111111111', instanceId: 'i-0123456789abcdef0' };
const prefix = `${STREAMED.commandId}/${STREAMED.instanceId}/run`;
const utf8 = new TextEncoder();

let endpoint: AwsEndpoint;
let client: CloudWatchLogsClient;
let streamed: StreamedInvocation;

beforeAll(async () => {
  const logs = new LocalCloudWatchLogs((commandId, instanceId) =>
    commandId === STREAMED.commandId && instanceId === STREAMED.instanceId ? streamed : undefined,
  );
  endpoint = await startAwsEndpoint({ services: { Logs_20140328: logs } });
  client = new CloudWatchLogsClient({
    endpoint: endpoint.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
});

afterAll(async () => {
  client?.destroy();
  await endpoint?.close();
});

/** A fresh stream pair holding these stdout lines (written as one chunk). */
function streamLines(text: string) {
  streamed = {
    logGroupName: GROUP,
    stepName: 'run',
    stdout: new StreamedChannel(),
    stderr: new StreamedChannel(),
  };
  streamed.stdout.write(utf8.encode(text));
}

const read = (
  logStreamName: string,
  options: { nextToken?: string; startFromHead?: boolean; limit?: number } = {},
) =>
  client.send(
    new GetLogEventsCommand({ logGroupName: GROUP, logStreamName, startFromHead: true, ...options }),
  );
const messages = (page: { events?: { message?: string }[] }) => page.events?.map((event) => event.message);

describe('local CloudWatch Logs, for the streams the SSM Agent writes', () => {
  it('serves one event per complete line, then an end page with the token passed in', async () => {
    streamLines('line 1\nline 2\npartial');
    const first = await read(`${prefix}/stdout`);
    const last = await read(`${prefix}/stdout`, { nextToken: first.nextForwardToken });

    expect(messages(first)).toEqual(['line 1', 'line 2']);
    expect(last.events).toEqual([]);
    expect(last.nextForwardToken).toBe(first.nextForwardToken);
  });

  it('reads on from a token at the end once more is written, and only that', async () => {
    streamLines('line 1\n');
    const first = await read(`${prefix}/stdout`);
    streamed.stdout.write(utf8.encode('line 2\n'));
    streamed.stdout.end('line 3');

    const next = await read(`${prefix}/stdout`, { nextToken: first.nextForwardToken });

    expect(messages(next)).toEqual(['line 2', 'line 3']);
    expect(next.nextForwardToken).not.toBe(first.nextForwardToken);
  });

  it('pages by limit, and at most 1 MB a page', async () => {
    streamLines('a\nb\nc\n');
    const page = await read(`${prefix}/stdout`, { limit: 2 });
    const rest = await read(`${prefix}/stdout`, { nextToken: page.nextForwardToken });
    expect([messages(page), messages(rest)]).toEqual([['a', 'b'], ['c']]);

    streamLines(`${'x'.repeat(600_000)}\n${'y'.repeat(600_000)}\n`);
    const big = await read(`${prefix}/stdout`);
    const after = await read(`${prefix}/stdout`, { nextToken: big.nextForwardToken });
    expect([big.events?.length, after.events?.length]).toEqual([1, 1]);
  });

  it('without startFromHead, returns the latest events first, with a backward token to earlier ones', async () => {
    streamLines('a\nb\nc\n');
    const latest = await read(`${prefix}/stdout`, { startFromHead: false, limit: 2 });
    const earlier = await read(`${prefix}/stdout`, {
      startFromHead: false,
      nextToken: latest.nextBackwardToken,
    });

    expect(messages(latest)).toEqual(['b', 'c']);
    expect(messages(earlier)).toEqual(['a']);
  });

  it.each([
    ['a token it did not return', 'not-a-token'],
    ['a token past the stream’s end', 'f/000000000099/s'],
  ])('refuses %s with InvalidParameterException', async (_, nextToken) => {
    streamLines('a\n');
    await expect(read(`${prefix}/stdout`, { nextToken })).rejects.toMatchObject({
      name: 'InvalidParameterException',
    });
  });

  it('refuses a forward token without startFromHead, as the API reference requires', async () => {
    streamLines('a\n');
    const first = await read(`${prefix}/stdout`);
    await expect(
      read(`${prefix}/stdout`, { nextToken: first.nextForwardToken, startFromHead: false }),
    ).rejects.toMatchObject({ name: 'InvalidParameterException' });
  });

  it.each([
    [
      'a command the agent streamed nothing for',
      GROUP,
      `22222222-2222-4222-8222-222222222222/${STREAMED.instanceId}/run/stdout`,
    ],
    ['a channel that printed nothing', GROUP, `${prefix}/stderr`],
    ['another log group', '/test/other', `${prefix}/stdout`],
    ['another step', GROUP, `${STREAMED.commandId}/${STREAMED.instanceId}/other/stdout`],
    ['a stream not named as the agent names them', GROUP, 'stdout'],
  ])('answers ResourceNotFoundException, as AWS does, for %s', async (_, group, stream) => {
    streamLines('line\n');
    await expect(
      client.send(
        new GetLogEventsCommand({ logGroupName: group, logStreamName: stream, startFromHead: true }),
      ),
    ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });
});
