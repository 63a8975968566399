import { DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import { sfn } from '#aws/sfn';
import type { TaskRecord } from '#core/task';
import type { TaskStore } from '#store/task-store';
import { endTask } from './end-task.ts';

const PAGE_SIZE = 100;

/**
 * Safety net for lost "Execution Status Change" events (they are best effort): every RUNNING task
 * whose execution has ended, or does not exist, is ended as its execution did. Returns the tasks fixed.
 */
export async function sweepRunningTasks(tasks: TaskStore): Promise<number[]> {
  const running: TaskRecord[] = [];
  for (let page = 0; ; page++) {
    const found = (await tasks.listTasks({ status: 'RUNNING', page, size: PAGE_SIZE })).tasks;
    running.push(...found);
    if (found.length < PAGE_SIZE) break;
  }
  const fixed: number[] = [];
  for (const task of running) {
    const execution = await describe(task.executor);
    if (execution.status === 'RUNNING') continue;
    await endTask(
      tasks,
      task.id,
      execution.status === 'SUCCEEDED'
        ? { status: 'SUCCESSFUL' }
        : { status: 'FAILED', error: execution.error, cause: execution.cause },
    );
    fixed.push(task.id);
  }
  return fixed;
}

async function describe(executionArn: string): Promise<{ status: string; error?: string; cause?: string }> {
  try {
    const execution = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    const status = execution.status ?? 'RUNNING';
    if (status === 'ABORTED') return { status, error: 'ExecutionAborted' };
    if (status === 'TIMED_OUT') return { status, error: 'States.Timeout' };
    return { status, error: execution.error, cause: execution.cause };
  } catch (error) {
    if (error instanceof Error && error.name === 'ExecutionDoesNotExist') {
      return {
        status: 'MISSING',
        error: 'ExecutionLost',
        cause: 'The execution that ran the task no longer exists.',
      };
    }
    throw error;
  }
}
