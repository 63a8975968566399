import { CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import {
  DescribeExecutionCommand,
  type ExecutionStatus,
  ListExecutionsCommand,
  SendTaskFailureCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type AwsEndpoint, type AwsTargetPrefix, startAwsEndpoint } from '#local/aws-endpoint';
import type { LocalService } from '#local/local-service';
import { localClientConfig, rejection } from './sfn-test-kit.ts';

/** Answers every operation with an empty output, recording what reached it. */
class RecordingService implements LocalService {
  readonly calls: { operation: string; input: unknown }[] = [];

  async handle(operation: string, input: unknown): Promise<unknown> {
    this.calls.push({ operation, input });
    return {};
  }
}

const PREFIXES: AwsTargetPrefix[] = [
  'AWSStepFunctions',
  'AmazonSSM',
  'AWSEvents',
  'AmazonSQS',
  'Logs_20140328',
];
const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:machine';
const INSTANCE_ID = 'i-0123456789abcdef0';

describe('requests to the local endpoint, checked against the API models as AWS checks them', () => {
  let endpoint: AwsEndpoint;
  let services: Record<AwsTargetPrefix, RecordingService>;
  let sfn: SFNClient;
  let ssm: SSMClient;
  let events: EventBridgeClient;
  let sqs: SQSClient;
  let logs: CloudWatchLogsClient;

  beforeAll(async () => {
    services = Object.fromEntries(PREFIXES.map((prefix) => [prefix, new RecordingService()])) as Record<
      AwsTargetPrefix,
      RecordingService
    >;
    endpoint = await startAwsEndpoint({ services });
    const config = localClientConfig(endpoint.url);
    sfn = new SFNClient(config);
    ssm = new SSMClient(config);
    events = new EventBridgeClient(config);
    sqs = new SQSClient(config);
    logs = new CloudWatchLogsClient(config);
  });

  beforeEach(() => {
    for (const service of Object.values(services)) service.calls.length = 0;
  });

  afterAll(async () => {
    for (const client of [sfn, ssm, events, sqs, logs]) client.destroy();
    await endpoint.close();
  });

  const reached = () => Object.values(services).flatMap((service) => service.calls);

  it('passes a valid request to the service unchanged', async () => {
    const input = {
      DocumentName: 'Ocp-Prepare',
      InstanceIds: [INSTANCE_ID],
      Comment: 'c'.repeat(100),
      TimeoutSeconds: 30,
      Parameters: { agentHome: ['/home/admin/ocp_agent'] },
    };

    await ssm.send(new SendCommandCommand(input));

    expect(services.AmazonSSM.calls).toEqual([{ operation: 'SendCommand', input }]);
  });

  it('refuses a SendCommand Comment of 101 characters with ValidationException, as SSM does', async () => {
    const comment = 'c'.repeat(101);

    const error = await rejection(
      ssm.send(
        new SendCommandCommand({ DocumentName: 'Ocp-Prepare', InstanceIds: [INSTANCE_ID], Comment: comment }),
      ),
    );

    expect(error.name).toBe('ValidationException');
    expect(error.message).toBe(
      `1 validation error detected: Value '${comment}' at 'comment' failed to satisfy constraint: ` +
        'Member must have length less than or equal to 100',
    );
    expect(reached()).toEqual([]);
  });

  it('refuses a SendCommand delivery timeout of 29 seconds', async () => {
    const error = await rejection(
      ssm.send(
        new SendCommandCommand({
          DocumentName: 'Ocp-Prepare',
          InstanceIds: [INSTANCE_ID],
          TimeoutSeconds: 29,
        }),
      ),
    );

    expect(error.name).toBe('ValidationException');
    expect(error.message).toBe(
      "1 validation error detected: Value '29' at 'timeoutSeconds' failed to satisfy constraint: " +
        'Member must have value greater than or equal to 30',
    );
  });

  it('names a list item by its position and reports every violation of the request', async () => {
    const error = await rejection(
      ssm.send(
        new SendCommandCommand({ DocumentName: 'x', InstanceIds: ['i-1'], TimeoutSeconds: 2_592_001 }),
      ),
    );

    expect(error.name).toBe('ValidationException');
    expect(error.message).toMatch(/^3 validation errors detected: /);
    expect(error.message).toContain(
      "Value 'x' at 'documentName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9_\\-.:/]{3,128}$",
    );
    expect(error.message).toContain(
      "Value 'i-1' at 'instanceIds.1.member' failed to satisfy constraint: Member must satisfy regular expression pattern: (^i-(\\w{8}|\\w{17})$)|(^mi-\\w{17}$)",
    );
    expect(error.message).toContain(
      "Value '2592001' at 'timeoutSeconds' failed to satisfy constraint: Member must have value less than or equal to 2592000",
    );
  });

  it('refuses a StartExecution name of 81 characters', async () => {
    const name = 'n'.repeat(81);

    const error = await rejection(
      sfn.send(new StartExecutionCommand({ stateMachineArn: STATE_MACHINE_ARN, name })),
    );

    expect(error.name).toBe('ValidationException');
    expect(error.message).toBe(
      `1 validation error detected: Value '${name}' at 'name' failed to satisfy constraint: ` +
        'Member must have length less than or equal to 80',
    );
    expect(reached()).toEqual([]);
  });

  it('refuses a SendTaskFailure cause over 32,768 characters without quoting the sensitive value', async () => {
    const error = await rejection(
      sfn.send(
        new SendTaskFailureCommand({ taskToken: 'token', error: 'SubtaskFailed', cause: 'c'.repeat(32_769) }),
      ),
    );

    expect(error.name).toBe('ValidationException');
    expect(error.message).toBe(
      "1 validation error detected: Value at 'cause' failed to satisfy constraint: " +
        'Member must have length less than or equal to 32768',
    );
  });

  it('refuses a missing required member and a value outside an enum', async () => {
    const missing = await rejection(sfn.send(new DescribeExecutionCommand({} as { executionArn: string })));
    const unknownStatus = await rejection(
      sfn.send(
        new ListExecutionsCommand({
          stateMachineArn: STATE_MACHINE_ARN,
          statusFilter: 'succeeded' as ExecutionStatus,
        }),
      ),
    );

    expect(missing.message).toBe(
      "1 validation error detected: Value null at 'executionArn' failed to satisfy constraint: Member must not be null",
    );
    expect(unknownStatus.message).toBe(
      "1 validation error detected: Value 'succeeded' at 'statusFilter' failed to satisfy constraint: " +
        'Member must satisfy enum value set: [RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE]',
    );
  });

  it('refuses PutEvents with 11 entries', async () => {
    const entry = { Source: 'ocp.agent', DetailType: 'Restart requested', Detail: '{}' };

    const error = await rejection(events.send(new PutEventsCommand({ Entries: Array(11).fill(entry) })));

    expect(error.name).toBe('ValidationException');
    expect(error.message).toMatch(
      /^1 validation error detected: Value '\[\{source=ocp\.agent, .*\]' at 'entries' failed to satisfy constraint: Member must have length less than or equal to 10$/,
    );
    expect(reached()).toEqual([]);
  });

  it("refuses a log stream name with a colon with CloudWatch Logs' InvalidParameterException", async () => {
    const error = await rejection(
      logs.send(
        new GetLogEventsCommand({
          logGroupName: '/ocp/commands',
          logStreamName: 'cmd/i-1/aws:runShellScript',
        }),
      ),
    );

    expect(error.name).toBe('InvalidParameterException');
    expect(error.message).toBe(
      "1 validation error detected: Value 'cmd/i-1/aws:runShellScript' at 'logStreamName' failed to satisfy constraint: " +
        'Member must satisfy regular expression pattern: [^:*]*',
    );
  });

  it('refuses an SQS message without a body as SQS does: MissingParameter, in its Query form too', async () => {
    const queueUrl = 'http://127.0.0.1/000000000000/dead-letters';
    const error = await rejection(sqs.send(new SendMessageCommand({ QueueUrl: queueUrl } as never)));
    const raw = await fetch(endpoint.url, {
      method: 'POST',
      headers: { 'x-amz-target': 'AmazonSQS.SendMessage', 'content-type': 'application/x-amz-json-1.0' },
      body: JSON.stringify({ QueueUrl: queueUrl }),
    });

    expect(error.name).toBe('MissingParameter');
    expect(error.message).toBe('The request must contain the parameter MessageBody.');
    expect(raw.status).toBe(400);
    expect(raw.headers.get('x-amzn-query-error')).toBe('MissingParameter;Sender');
    expect(reached()).toEqual([]);
  });

  it('refuses a value of the wrong JSON type while reading the request', async () => {
    const response = await fetch(endpoint.url, {
      method: 'POST',
      headers: { 'x-amz-target': 'AmazonSSM.SendCommand', 'content-type': 'application/x-amz-json-1.1' },
      body: JSON.stringify({ DocumentName: 'Ocp-Prepare', TimeoutSeconds: '60' }),
    });

    expect(response.status).toBe(400);
    expect(response.headers.get('x-amzn-errortype')).toBe('SerializationException');
    expect(reached()).toEqual([]);
  });

  it('refuses an operation its models do not hold, naming the command that adds it', async () => {
    const response = await fetch(endpoint.url, {
      method: 'POST',
      headers: {
        'x-amz-target': 'AmazonSSM.DeleteDocument',
        'content-type': 'application/x-amz-json-1.1',
      },
      body: '{}',
    });
    const body = (await response.json()) as { __type: string; message: string };

    expect(body.__type).toBe('UnknownOperationException');
    expect(body.message).toContain('npm run generate:api-models');
    expect(reached()).toEqual([]);
  });
});
