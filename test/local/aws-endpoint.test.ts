import { DescribeExecutionCommand, ListStateMachinesCommand, SFNClient } from '@aws-sdk/client-sfn';
import { GetCommandInvocationCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AwsEndpoint, startAwsEndpoint } from '#local/aws-endpoint';
import { AwsError, type LocalService, unknownOperation } from '#local/local-service';
import { localClientConfig, rejection } from './sfn-test-kit.ts';

const EXECUTION_ARN = 'arn:aws:states:us-east-1:123456789012:execution:machine:known';

/** A service that answers DescribeExecution for one ARN, to observe the protocol. */
class RecordingService implements LocalService {
  readonly calls: { operation: string; input: unknown }[] = [];

  async handle(operation: string, input: unknown): Promise<unknown> {
    this.calls.push({ operation, input });
    if (operation === 'ListStateMachines') throw new Error('boom');
    if (operation !== 'DescribeExecution') throw unknownOperation(`AWSStepFunctions.${operation}`);
    const { executionArn } = input as { executionArn: string };
    if (executionArn !== EXECUTION_ARN) {
      throw new AwsError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
    }
    return {
      executionArn,
      stateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:machine',
      status: 'RUNNING',
      startDate: new Date('2024-05-01T10:00:00.250Z'),
    };
  }
}

describe('the local AWS endpoint', () => {
  let endpoint: AwsEndpoint;
  let service: RecordingService;
  let sfn: SFNClient;
  let ssm: SSMClient;

  beforeAll(async () => {
    service = new RecordingService();
    endpoint = await startAwsEndpoint({ services: { AWSStepFunctions: service } });
    sfn = new SFNClient(localClientConfig(endpoint.url));
    ssm = new SSMClient(localClientConfig(endpoint.url));
  });

  afterAll(async () => {
    sfn.destroy();
    ssm.destroy();
    await endpoint.close();
  });

  it('passes the operation and its JSON input to the service named by X-Amz-Target', async () => {
    const output = await sfn.send(new DescribeExecutionCommand({ executionArn: EXECUTION_ARN }));

    expect(service.calls.at(-1)).toEqual({
      operation: 'DescribeExecution',
      input: { executionArn: EXECUTION_ARN },
    });
    expect(output.status).toBe('RUNNING');
  });

  it('sends dates as epoch seconds, which the SDK reads back as dates', async () => {
    const output = await sfn.send(new DescribeExecutionCommand({ executionArn: EXECUTION_ARN }));

    expect(output.startDate).toEqual(new Date('2024-05-01T10:00:00.250Z'));
  });

  it('answers with the JSON protocol version of each service', async () => {
    const response = await fetch(endpoint.url, {
      method: 'POST',
      headers: {
        'x-amz-target': 'AWSStepFunctions.DescribeExecution',
        'content-type': 'application/x-amz-json-1.0',
      },
      body: JSON.stringify({ executionArn: EXECUTION_ARN }),
    });

    expect(response.headers.get('content-type')).toBe('application/x-amz-json-1.0');
    expect(((await response.json()) as { startDate: unknown }).startDate).toBe(1714557600.25);
  });

  it('turns an AwsError into an AWS error the SDK throws under its code', async () => {
    const error = await rejection(
      sfn.send(new DescribeExecutionCommand({ executionArn: `${EXECUTION_ARN}-other` })),
    );

    expect(error.name).toBe('ExecutionDoesNotExist');
    expect(error.message).toContain('Execution Does Not Exist');
    expect((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode).toBe(400);
  });

  it('answers UnknownOperationException for a service that is not served', async () => {
    const error = await rejection(
      ssm.send(new GetCommandInvocationCommand({ CommandId: 'c', InstanceId: 'i' })),
    );

    expect(error.name).toBe('UnknownOperationException');
  });

  it('answers a failure that is not an AwsError with a 500 InternalFailure', async () => {
    const error = await rejection(sfn.send(new ListStateMachinesCommand({})));

    expect(error.name).toBe('InternalFailure');
    expect((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode).toBe(500);
  });

  it('refuses a body that is not JSON', async () => {
    const response = await fetch(endpoint.url, {
      method: 'POST',
      headers: { 'x-amz-target': 'AWSStepFunctions.DescribeExecution' },
      body: '{not json',
    });

    expect(response.status).toBe(400);
    expect(response.headers.get('x-amzn-errortype')).toBe('SerializationException');
  });
});
