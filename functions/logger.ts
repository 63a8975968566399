import { Logger } from '@aws-lambda-powertools/logger';

/** Structured JSON logs; the service name comes from POWERTOOLS_SERVICE_NAME when set. */
export const logger = new Logger({ serviceName: 'ocp-agent-restart' });

/**
 * Wraps a Lambda entry as Powertools' injectLambdaContext({ resetKeys: true }) does, without middy:
 * each invocation starts free of the keys an earlier one appended (a warm start reuses the logger).
 */
export function loggedInvocation<Args extends unknown[], Result>(
  handler: (...args: Args) => Promise<Result>,
): (...args: Args) => Promise<Result> {
  return (...args) => {
    logger.resetKeys();
    return handler(...args);
  };
}
