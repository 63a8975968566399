/** One AWS service answered in process by the local endpoint, reached through its JSON protocol. */
export interface LocalService {
  /** Runs `operation` (the X-Amz-Target suffix, e.g. "StartExecution") on the parsed JSON input. */
  handle(operation: string, input: unknown): Promise<unknown>;
}

/**
 * An error the endpoint returns the way AWS does (`__type`, `x-amzn-errortype`), so that an SDK client
 * throws an Error whose `name` is `code`.
 */
export class AwsError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly statusCode = 400,
  ) {
    super(message);
    this.name = code;
  }
}

/** The error AWS returns for an X-Amz-Target it does not know. */
export function unknownOperation(target: string): AwsError {
  return new AwsError('UnknownOperationException', `Unknown operation ${target}`);
}
