import { JsonLogger } from './json-logger.ts';
import { annotateTrace, inHandlerSubsegment } from './tracer.ts';

/** Structured JSON logs; on Lambda each line carries the invocation's X-Ray trace id (xray_trace_id). */
export const logger = new JsonLogger({ serviceName: 'ocp-agent-restart' });

/**
 * Wraps a Lambda entry as Powertools' injectLambdaContext({ resetKeys: true }) and
 * captureLambdaHandler do, without middy: each invocation starts free of the keys an earlier one
 * appended (a warm start reuses the logger), and runs in its own X-Ray subsegment.
 */
export function loggedInvocation<Args extends unknown[], Result>(
  handler: (...args: Args) => Promise<Result>,
): (...args: Args) => Promise<Result> {
  return (...args) => {
    logger.resetKeys();
    return inHandlerSubsegment(() => handler(...args));
  };
}

/** What names a task's work: on every later log line of the invocation, and on its trace. */
export interface TaskKeys {
  taskId: number;
  /** The subtask's name. */
  subtask?: string;
  subtaskIndex?: number;
  attempt?: number;
}

/** Appends the task's keys to the invocation's log lines and annotates its trace with them. */
export function appendTaskKeys(keys: TaskKeys): void {
  logger.appendKeys({ ...keys });
  annotateTrace({
    taskId: keys.taskId,
    subtask: keys.subtask,
    subtaskIndex: keys.subtaskIndex,
    attempt: keys.attempt,
  });
}
