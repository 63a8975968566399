import { CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AwsEndpoint, startAwsEndpoint } from '#local/aws-endpoint';
import { LocalCloudWatchLogs } from '#local/services/cloudwatch-logs';

const GROUP = '/test/command-output';
const STREAMED = { commandId: '11111111-1111-4111-8111-111111111111', instanceId: 'i-0123456789abcdef0' };
const prefix = `${STREAMED.commandId}/${STREAMED.instanceId}/run`;

let endpoint: AwsEndpoint;
let client: CloudWatchLogsClient;

beforeAll(async () => {
  const logs = new LocalCloudWatchLogs((commandId, instanceId) =>
    commandId === STREAMED.commandId && instanceId === STREAMED.instanceId
      ? { logGroupName: GROUP, stdout: 'line 1\nline 2\n', stderr: '' }
      : undefined,
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

const read = (logGroupName: string, logStreamName: string, nextToken?: string) =>
  client.send(new GetLogEventsCommand({ logGroupName, logStreamName, startFromHead: true, nextToken }));

describe('local CloudWatch Logs, for the streams the SSM Agent writes', () => {
  it('serves a streamed channel’s text, then an end page with the same forward token', async () => {
    const first = await read(GROUP, `${prefix}/stdout`);
    const last = await read(GROUP, `${prefix}/stdout`, first.nextForwardToken);

    expect(first.events?.map((event) => event.message)).toEqual(['line 1\nline 2']);
    expect(last.events).toEqual([]);
    expect(last.nextForwardToken).toBe(first.nextForwardToken);
  });

  it.each([
    [
      'a command the agent streamed nothing for',
      GROUP,
      `22222222-2222-4222-8222-222222222222/${STREAMED.instanceId}/run/stdout`,
    ],
    ['a channel that printed nothing', GROUP, `${prefix}/stderr`],
    ['another log group', '/test/other', `${prefix}/stdout`],
    ['a stream not named as the agent names them', GROUP, 'stdout'],
  ])('answers ResourceNotFoundException, as AWS does, for %s', async (_, group, stream) => {
    await expect(read(group, stream)).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });
});
