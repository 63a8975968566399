import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { API_MODELS, validateRequest } from '#local/api-validation';
import { AwsError, type LocalService, unknownOperation } from '#local/local-service';

/** The X-Amz-Target prefixes the endpoint answers: Step Functions, SSM, EventBridge, SQS and CloudWatch Logs. */
export type AwsTargetPrefix = 'AWSStepFunctions' | 'AmazonSSM' | 'AWSEvents' | 'AmazonSQS' | 'Logs_20140328';

export interface AwsEndpointOptions {
  /** 0 or absent: a free port. */
  port?: number;
  host?: string;
  services: Partial<Record<AwsTargetPrefix, LocalService>>;
  /** Functions answering Lambda's Invoke (`POST /2015-03-31/functions/{name}/invocations`), by name. */
  lambdaFunctions?: Record<string, (payload: unknown) => Promise<unknown>>;
}

/** A running local endpoint: point `AWS_ENDPOINT_URL_SFN/_SSM/_EVENTBRIDGE` (or a client's `endpoint`) at `url`. */
export interface AwsEndpoint {
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * One HTTP server answering the AWS JSON protocols of several services, dispatched on `X-Amz-Target`
 * (`<Prefix>.<Operation>`). Every request is first checked against the service's API model, as AWS
 * checks it; dates in responses are sent as epoch seconds, as AWS does.
 */
export async function startAwsEndpoint(options: AwsEndpointOptions): Promise<AwsEndpoint> {
  const host = options.host ?? '127.0.0.1';
  const server = createServer((request, response) => {
    const invocation = LAMBDA_INVOKE_PATH.exec(request.url ?? '');
    if (invocation && request.method === 'POST')
      void invoke(options.lambdaFunctions ?? {}, invocation[1]!, request, response);
    else void answer(options.services, request, response);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

const LAMBDA_INVOKE_PATH = /^\/2015-03-31\/functions\/([^/?]+)\/invocations(?:\?.*)?$/;

/** Lambda's RequestResponse Invoke: a function error answers 200 with X-Amz-Function-Error, as Lambda does. */
async function invoke(
  functions: Record<string, (payload: unknown) => Promise<unknown>>,
  encodedName: string,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const name = decodeURIComponent(encodedName);
  const fn = functions[name] ?? functions[name.split(':').at(-1) ?? ''];
  const contentType = 'application/json';
  if (!fn) {
    send(
      response,
      404,
      contentType,
      { Type: 'User', message: `Function not found: ${name}` },
      {
        'x-amzn-errortype': 'ResourceNotFoundException',
      },
    );
    return;
  }
  const body = await readBody(request);
  try {
    const result = await fn(body ? JSON.parse(body) : {});
    send(response, 200, contentType, result ?? null, { 'x-amz-executed-version': '$LATEST' });
  } catch (error) {
    const failure = error instanceof Error ? error : new Error(String(error));
    send(
      response,
      200,
      contentType,
      { errorType: failure.name, errorMessage: failure.message },
      {
        'x-amz-executed-version': '$LATEST',
        'x-amz-function-error': 'Unhandled',
      },
    );
  }
}

async function answer(
  services: AwsEndpointOptions['services'],
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const target = String(request.headers['x-amz-target'] ?? '');
  const separator = target.indexOf('.');
  const prefix = target.slice(0, separator) as AwsTargetPrefix;
  const operation = target.slice(separator + 1);
  const jsonVersion = API_MODELS.services[prefix]?.jsonVersion;
  const contentType = jsonVersion ? `application/x-amz-json-${jsonVersion}` : jsonContentType(request);
  try {
    const body = await readBody(request);
    const service = separator > 0 ? services[prefix] : undefined;
    if (!service || !operation) throw unknownOperation(target);
    let input: unknown = {};
    if (body.length > 0) {
      try {
        input = JSON.parse(body);
      } catch {
        throw new AwsError('SerializationException', 'The request body is not valid JSON');
      }
    }
    validateRequest(prefix, operation, input);
    const output = await service.handle(operation, input);
    send(response, 200, contentType, output ?? {});
  } catch (error) {
    const failure =
      error instanceof AwsError
        ? error
        : new AwsError('InternalFailure', error instanceof Error ? error.message : String(error), 500);
    if (failure.statusCode >= 500) console.error(`Local AWS endpoint: ${target} failed`, error);
    send(
      response,
      failure.statusCode,
      contentType,
      { __type: failure.code, message: failure.message },
      {
        'x-amzn-errortype': failure.code,
        // A Query-compatible service (SQS) also names the error in its Query form.
        ...(API_MODELS.services[prefix]?.awsQueryCompatible
          ? { 'x-amzn-query-error': `${failure.code};${failure.statusCode >= 500 ? 'Receiver' : 'Sender'}` }
          : {}),
      },
    );
  }
}

function jsonContentType(request: IncomingMessage): string {
  const requested = String(request.headers['content-type'] ?? '');
  return requested.startsWith('application/x-amz-json-') ? requested : 'application/x-amz-json-1.1';
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function send(
  response: ServerResponse,
  status: number,
  contentType: string,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body, awsJsonReplacer);
  response.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
    ...headers,
  });
  response.end(text);
}

/** AWS JSON protocols send timestamps as epoch seconds (fractional), not ISO strings. */
function awsJsonReplacer(this: unknown, key: string, value: unknown): unknown {
  const raw = (this as Record<string, unknown>)[key];
  return raw instanceof Date ? raw.getTime() / 1000 : value;
}
