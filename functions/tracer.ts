import { Tracer } from '@aws-lambda-powertools/tracer';
import { METRICS_SERVICE } from '#core/metric-names';

/**
 * X-Ray tracing of the functions (the stack turns on active tracing): each SDK client passed through
 * traceClient shows its calls as subsegments of the invocation's. Off where Lambda is not (tests,
 * local mode, which also sets POWERTOOLS_TRACE_ENABLED=false): every call below is then a no-op.
 * Only SDK calls are captured, not raw HTTP (it would repeat them), and no response is recorded (an
 * API answer may hold a subtask's full log).
 */
export const tracer = new Tracer({
  serviceName: METRICS_SERVICE,
  captureHTTPsRequests: false,
});

export function traceClient<Client>(client: Client): Client {
  return tracer.captureAWSv3Client(client);
}

/** Annotations are indexed by X-Ray: find a task's traces with `annotation.taskId = 123`. */
export function annotateTrace(annotations: Readonly<Record<string, string | number | undefined>>): void {
  if (!tracer.isTracingEnabled()) return;
  for (const [key, value] of Object.entries(annotations)) {
    if (value !== undefined) tracer.putAnnotation(key, value);
  }
}

/**
 * Runs one invocation inside its own `## handler` subsegment (Lambda's own segment takes no
 * annotations), annotated with the cold start and the service; an error is recorded on it.
 */
export async function inHandlerSubsegment<Result>(run: () => Promise<Result>): Promise<Result> {
  if (!tracer.isTracingEnabled()) return run();
  const segment = tracer.getSegment();
  const subsegment = segment?.addNewSubsegment(`## ${process.env._HANDLER ?? 'handler'}`);
  if (subsegment) tracer.setSegment(subsegment);
  tracer.annotateColdStart();
  tracer.addServiceNameAnnotation();
  try {
    return await run();
  } catch (error) {
    tracer.addErrorAsMetadata(error as Error);
    throw error;
  } finally {
    if (segment && subsegment) {
      subsegment.close();
      tracer.setSegment(segment);
    }
  }
}
