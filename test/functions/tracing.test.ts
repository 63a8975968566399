import { createSocket, type Socket } from 'node:dgram';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';

/** Lambda's environment for a sampled invocation, as the runtime sets it with active tracing. */
const TRACE_ROOT = '1-5759e988-bd862e3fe1be46a994272793';
const LAMBDA_PARENT = '53995c3f42cd8ad8';
const lambdaEnv = (daemonPort: number, sampled = 1) => ({
  AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
  LAMBDA_TASK_ROOT: '/var/task',
  _HANDLER: 'index.handler',
  _X_AMZN_TRACE_ID: `Root=${TRACE_ROOT};Parent=${LAMBDA_PARENT};Sampled=${sampled}`,
  AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${daemonPort}`,
  POWERTOOLS_TRACE_ENABLED: '',
});

type Document = Record<string, unknown> & { id: string; name: string; parent_id: string };

/** A stand-in X-Ray daemon: the UDP datagrams it receives, each a header line and a segment document. */
let daemon: Socket;
let datagrams: string[] = [];
/** A stand-in DynamoDB: answers every call with an empty item, 500 for a table named "broken". */
let dynamodb: Server;
let requestHeaders: IncomingHttpHeaders[] = [];

beforeAll(async () => {
  daemon = createSocket('udp4');
  daemon.on('message', (message) => datagrams.push(message.toString('utf8')));
  await new Promise<void>((resolve) => daemon.bind(0, '127.0.0.1', resolve));
  dynamodb = createServer((request, response) => {
    requestHeaders.push(request.headers);
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      const broken = body.includes('"broken"');
      response.writeHead(broken ? 500 : 200, {
        'content-type': 'application/x-amz-json-1.0',
        'x-amzn-requestid': 'REQ123',
      });
      response.end(broken ? '{"__type":"InternalServerError","message":"down"}' : '{}');
    });
  });
  await new Promise<void>((resolve) => dynamodb.listen(0, '127.0.0.1', resolve));
});

afterAll(async () => {
  daemon.close();
  await new Promise((resolve) => dynamodb.close(resolve));
});

afterEach(() => {
  vi.unstubAllEnvs();
  datagrams = [];
  requestHeaders = [];
});

async function freshModules(env: Record<string, string>) {
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
  vi.resetModules();
  const { appendTaskKeys, loggedInvocation } = await import('../../functions/logger.ts');
  const { traceClient } = await import('../../functions/tracer.ts');
  const client = traceClient(
    new DynamoDBClient({
      endpoint: `http://127.0.0.1:${(dynamodb.address() as AddressInfo).port}`,
      region: 'eu-west-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    }),
  );
  return { appendTaskKeys, loggedInvocation, client };
}

async function documents(count: number): Promise<[Document, Document]> {
  for (let waited = 0; datagrams.length < count && waited < 2_000; waited += 20)
    await new Promise((resolve) => setTimeout(resolve, 20));
  return datagrams.map((datagram) => {
    const [header, body] = datagram.split('\n', 2);
    expect(JSON.parse(header!)).toEqual({ format: 'json', version: 1 });
    return JSON.parse(body!) as Document;
  }) as [Document, Document];
}

const daemonPort = () => daemon.address().port;
const getItem = (table = 'tasks') =>
  new GetItemCommand({ TableName: table, Key: { pk: { S: 'TASK#7' }, sk: { S: 'TASK' } } });

describe('tracing', () => {
  it('sends the invocation’s handler subsegment, annotated with the task’s keys, and each SDK call under it', async () => {
    const { appendTaskKeys, loggedInvocation, client } = await freshModules(lambdaEnv(daemonPort()));

    await loggedInvocation(async () => {
      appendTaskKeys({ taskId: 7, subtask: 'Prepare restart OCP agent', subtaskIndex: 0, attempt: 2 });
      await client.send(getItem());
    })();

    const [call, handler] = await documents(2);
    expect(handler).toMatchObject({
      type: 'subsegment',
      trace_id: TRACE_ROOT,
      parent_id: LAMBDA_PARENT,
      name: '## index.handler',
      annotations: {
        taskId: 7,
        subtask: 'Prepare restart OCP agent',
        subtaskIndex: 0,
        attempt: 2,
        ColdStart: true,
        Service: 'ocp-agent-restart',
      },
    });
    expect(handler.id).toMatch(/^[0-9a-f]{16}$/);
    expect(handler.end_time as number).toBeGreaterThanOrEqual(handler.start_time as number);
    expect(call).toMatchObject({
      type: 'subsegment',
      trace_id: TRACE_ROOT,
      parent_id: handler.id,
      name: 'DynamoDB',
      namespace: 'aws',
      aws: { operation: 'GetItem', region: 'eu-west-1', request_id: 'REQ123', retries: 0 },
      http: { response: { status: 200 } },
    });
    // The call carried the trace on, naming its own subsegment as the parent.
    expect(requestHeaders[0]?.['x-amzn-trace-id']).toBe(`Root=${TRACE_ROOT};Parent=${call.id};Sampled=1`);
  });

  it('marks a failed call as a fault and an invocation’s error on its subsegment, and passes the error on', async () => {
    const { loggedInvocation, client } = await freshModules(lambdaEnv(daemonPort()));

    await expect(
      loggedInvocation(async () => {
        await client.send(getItem('broken'));
      })(),
    ).rejects.toThrow('down');

    const [call, handler] = await documents(2);
    expect(call).toMatchObject({
      fault: true,
      http: { response: { status: 500 } },
      cause: { exceptions: [{ type: 'InternalServerError', message: 'down' }] },
    });
    expect(handler).toMatchObject({ fault: true, cause: { exceptions: [{ message: 'down' }] } });
  });

  it.each([
    ['local mode (POWERTOOLS_TRACE_ENABLED=false)', { POWERTOOLS_TRACE_ENABLED: 'false' }],
    [
      'an invocation Lambda did not sample',
      { _X_AMZN_TRACE_ID: `Root=${TRACE_ROOT};Parent=${LAMBDA_PARENT};Sampled=0` },
    ],
    ['outside Lambda', { LAMBDA_TASK_ROOT: '' }],
  ])('sends nothing and adds no header in %s', async (_, overrides) => {
    const env: Record<string, string> = { ...lambdaEnv(daemonPort()), ...overrides };
    if (env.LAMBDA_TASK_ROOT === '') delete env.LAMBDA_TASK_ROOT;
    vi.stubEnv('LAMBDA_TASK_ROOT', undefined);
    const { appendTaskKeys, loggedInvocation, client } = await freshModules(env);

    const answer = await loggedInvocation(async () => {
      appendTaskKeys({ taskId: 7 });
      await client.send(getItem());
      return 'done';
    })();

    expect(answer).toBe('done');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(datagrams).toEqual([]);
    expect(requestHeaders[0]?.['x-amzn-trace-id']).toBeUndefined();
  });
});

describe('the daemon address and trace header', () => {
  it('reads both forms of AWS_XRAY_DAEMON_ADDRESS, and Lambda’s header', async () => {
    const { daemonAddress, sampledTrace } = await import('../../functions/tracer.ts');
    expect(daemonAddress('169.254.79.129:2000')).toEqual({ host: '169.254.79.129', port: 2000 });
    expect(daemonAddress('tcp:127.0.0.1:2000 udp:127.0.0.2:2001')).toEqual({ host: '127.0.0.2', port: 2001 });
    expect(daemonAddress(undefined)).toEqual({ host: '127.0.0.1', port: 2000 });
    expect(sampledTrace(`Root=${TRACE_ROOT};Parent=${LAMBDA_PARENT};Sampled=1;Lineage=a:1`)).toEqual({
      root: TRACE_ROOT,
      parent: LAMBDA_PARENT,
    });
    expect(sampledTrace(`Root=${TRACE_ROOT};Sampled=1`)).toBeUndefined();
    expect(sampledTrace(undefined)).toBeUndefined();
  });
});
