import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import type { MetadataBearer } from '@smithy/types';
import { METRICS_SERVICE } from '#core/metric-names';

/**
 * X-Ray tracing of the functions (the stack turns on active tracing), written to the X-Ray daemon
 * that Lambda runs beside each function, in the daemon's UDP protocol ("Sending segment documents to
 * the X-Ray daemon", X-Ray developer guide): each invocation gets a `## handler` subsegment of
 * Lambda's own segment, annotated with the task's keys, and each SDK call of a client passed through
 * traceClient a subsegment of it (namespace aws, service, operation, request id, status), its request
 * carrying the trace header so that Step Functions, SSM and EventBridge join the trace. Powertools
 * Tracer does the same through the X-Ray SDK, whose import alone cost 20–40 ms of every cold start
 * (BENCHMARKS.md, cold start). Off where Lambda is not, where POWERTOOLS_TRACE_ENABLED is "false"
 * (local mode sets it), and for invocations Lambda did not sample: every call below is then a no-op.
 * No request or response body is recorded (an API answer may hold a subtask's full log).
 */

interface TraceHeader {
  root: string;
  parent: string;
}

interface Subsegment {
  id: string;
  name: string;
  start_time: number;
  end_time?: number;
  annotations?: Record<string, string | number | boolean>;
  error?: boolean;
  fault?: boolean;
  cause?: { exceptions: { message: string; type: string }[] };
}

const DAEMON_HEADER = '{"format": "json", "version": 1}\n';
const DEFAULT_DAEMON = { host: '127.0.0.1', port: 2000 };

let socket: Socket | undefined;
let coldStart = true;
/** The invocation's handler subsegment, while one runs (Lambda serves one invocation at a time). */
let current: { trace: TraceHeader; segment: Subsegment } | undefined;

export function tracingEnabled(): boolean {
  return (
    process.env.POWERTOOLS_TRACE_ENABLED?.toLowerCase() !== 'false' &&
    process.env.LAMBDA_TASK_ROOT !== undefined &&
    process.env.AWS_SAM_LOCAL === undefined
  );
}

/** The fields of an X-Ray trace header, `Root=…;Parent=…;Sampled=1`. */
export function traceHeaderFields(header: string): Map<string, string | undefined> {
  return new Map(header.split(';').map((field) => field.split('=', 2) as [string, string | undefined]));
}

/** The sampled invocation's trace from `_X_AMZN_TRACE_ID` (Lambda sets it for each invocation). */
export function sampledTrace(header = process.env._X_AMZN_TRACE_ID): TraceHeader | undefined {
  const fields = traceHeaderFields(header ?? '');
  const root = fields.get('Root');
  const parent = fields.get('Parent');
  if (!root || !parent || fields.get('Sampled') !== '1') return undefined;
  return { root, parent };
}

/** Where the daemon listens: AWS_XRAY_DAEMON_ADDRESS, "host:port" or "udp:host:port tcp:host:port". */
export function daemonAddress(value = process.env.AWS_XRAY_DAEMON_ADDRESS): { host: string; port: number } {
  const udp = (value ?? '').split(' ').find((part) => !part.startsWith('tcp:'));
  const match = /^(?:udp:)?([^:\s]+):(\d{1,5})$/.exec(udp ?? '');
  return match ? { host: match[1]!, port: Number(match[2]) } : DEFAULT_DAEMON;
}

const newId = () => randomBytes(8).toString('hex');
const now = () => Date.now() / 1000;

function send(trace: TraceHeader, parentId: string, segment: Subsegment, fields: object = {}): void {
  const document = JSON.stringify({
    ...segment,
    ...fields,
    type: 'subsegment',
    trace_id: trace.root,
    parent_id: parentId,
  });
  const { host, port } = daemonAddress();
  socket ??= createSocket('udp4').unref();
  // Best effort, as the X-Ray SDK's: a trace never fails an invocation.
  socket.send(DAEMON_HEADER + document, port, host, () => undefined);
}

/** Annotations are indexed by X-Ray: find a task's traces with `annotation.taskId = 123`. */
export function annotateTrace(annotations: Readonly<Record<string, string | number | undefined>>): void {
  if (!current) return;
  const recorded = current.segment.annotations ?? {};
  for (const [key, value] of Object.entries(annotations)) {
    if (value !== undefined) recorded[key] = value;
  }
  current.segment.annotations = recorded;
}

/**
 * Runs one invocation inside its own `## handler` subsegment (Lambda's own segment takes no
 * annotations), annotated with the cold start and the service; an error is recorded on it.
 */
export async function inHandlerSubsegment<Result>(run: () => Promise<Result>): Promise<Result> {
  const trace = tracingEnabled() ? sampledTrace() : undefined;
  if (!trace) return run();
  const segment: Subsegment = {
    id: newId(),
    name: `## ${process.env._HANDLER ?? 'handler'}`,
    start_time: now(),
    annotations: { ColdStart: coldStart, Service: METRICS_SERVICE },
  };
  coldStart = false;
  current = { trace, segment };
  try {
    return await run();
  } catch (error) {
    segment.fault = true;
    segment.cause = { exceptions: [exceptionOf(error)] };
    throw error;
  } finally {
    current = undefined;
    send(trace, trace.parent, { ...segment, end_time: now() });
  }
}

type TracedClient = {
  config: { serviceId?: string; region?: unknown };
  middlewareStack: {
    add(middleware: unknown, options: { step: 'build'; name: string; priority: 'low' }): void;
  };
};

/**
 * Records each call of the client as a subsegment of the invocation's handler subsegment, and sends
 * the trace header with it. The middleware sits in the build step, so one subsegment covers the
 * call's retries (reported as `retries`), as the X-Ray SDK's does.
 */
export function traceClient<Client>(client: Client): Client {
  const traced = client as unknown as TracedClient;
  const service = traced.config.serviceId ?? 'AWS';
  // The client's region is a provider; it does not change, so it is asked once.
  let region: Promise<unknown> | undefined;
  traced.middlewareStack.add(
    (
      next: (args: { request: unknown }) => Promise<{ output: MetadataBearer }>,
      context: {
        commandName?: string;
      },
    ) =>
      async (args: { request: unknown }) => {
        const invocation = current;
        if (!invocation) return next(args);
        const segment: Subsegment = { id: newId(), name: service, start_time: now() };
        const request = args.request as { headers?: Record<string, string> };
        if (request.headers)
          request.headers['X-Amzn-Trace-Id'] = `Root=${invocation.trace.root};Parent=${segment.id};Sampled=1`;
        const operation = (context.commandName ?? '').replace(/Command$/, '');
        const { region: provider } = traced.config;
        region ??= typeof provider === 'function' ? Promise.resolve(provider()) : Promise.resolve(provider);
        const regionName = await region;
        let metadata: MetadataBearer['$metadata'] | undefined;
        try {
          const result = await next(args);
          metadata = result.output.$metadata;
          return result;
        } catch (error) {
          metadata = (error as MetadataBearer).$metadata;
          const status = metadata?.httpStatusCode ?? 0;
          if (status === 429) Object.assign(segment, { throttle: true, error: true });
          else if (status >= 400 && status < 500) segment.error = true;
          else segment.fault = true;
          segment.cause = { exceptions: [exceptionOf(error)] };
          throw error;
        } finally {
          send(
            invocation.trace,
            invocation.segment.id,
            { ...segment, end_time: now() },
            {
              namespace: 'aws',
              aws: {
                operation,
                ...(typeof regionName === 'string' ? { region: regionName } : {}),
                ...(metadata?.requestId ? { request_id: metadata.requestId } : {}),
                retries: Math.max(0, (metadata?.attempts ?? 1) - 1),
              },
              ...(metadata?.httpStatusCode
                ? { http: { response: { status: metadata.httpStatusCode } } }
                : {}),
            },
          );
        }
      },
    { step: 'build', name: 'xrayTracing', priority: 'low' },
  );
  return client;
}

function exceptionOf(error: unknown): { message: string; type: string } {
  return error instanceof Error
    ? { message: error.message, type: error.name }
    : { message: String(error), type: 'Error' };
}
