/** A function's error as Lambda's runtime reports it (the Invoke payload of a FunctionError). */
export interface RuntimeErrorPayload {
  errorType: string;
  errorMessage: string;
  trace: string[];
}

/**
 * A failed invocation, raised on the caller's side of the instance boundary: its name is the
 * payload's errorType (the handler's error name, or Lambda's own, e.g. Sandbox.Timedout), its message
 * the errorMessage and its stack the trace, so every invocation path sees what Lambda would report.
 */
export class FunctionError extends Error {
  readonly errorType: string;

  constructor(payload: RuntimeErrorPayload) {
    super(payload.errorMessage);
    this.name = payload.errorType;
    this.errorType = payload.errorType;
    this.stack =
      payload.trace.length > 0 ? payload.trace.join('\n') : `${payload.errorType}: ${payload.errorMessage}`;
  }
}

/** Lambda's report of an invocation stopped at the function's timeout. */
export function timedOut(requestId: string, timeoutSeconds: number): FunctionError {
  return new FunctionError({
    errorType: 'Sandbox.Timedout',
    errorMessage: `RequestId: ${requestId} Error: Task timed out after ${timeoutSeconds.toFixed(2)} seconds`,
    trace: [],
  });
}

/** Lambda's report of an instance that died during an invocation (out of memory, process exit). */
export function runtimeExited(requestId: string, reason: string, outOfMemory: boolean): FunctionError {
  return new FunctionError({
    errorType: outOfMemory ? 'Runtime.OutOfMemory' : 'Runtime.ExitError',
    errorMessage: `RequestId: ${requestId} Error: Runtime exited with error: ${reason}`,
    trace: [],
  });
}
