import { DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import { sfn } from '#aws/sfn';
import { hasEnded } from '#core/command-outcome';
import { type ExecutionStatus, type ExecutionView, sweepVerdict } from '#core/execution-sweep';
import type { TaskRecord } from '#core/task';
import type { TaskStore } from '#store/task-store';
import { logger } from '../logger.ts';
import { readInvocation } from './command-status.ts';
import { endTask } from './end-task.ts';
import { recordCommandOutcome } from './record-command-outcome.ts';

const PAGE_SIZE = 100;

export interface SweepOptions {
  /** Hand-overs to Step Functions made before this are settled (see sweepVerdict). */
  handoversSettledBefore: Date;
  /** Where SSM writes the commands' full output, for the subtask logs it records. */
  outputLogGroup: string;
}

export interface SweepResult {
  /** Tasks ended as their execution had ended. */
  fixed: number[];
  /** Tasks whose running subtask's command had ended unnoticed: its outcome recorded, its step completed. */
  completed: number[];
  /** Tasks the sweep could not check this time (logged); the next sweep tries again. */
  failed: number[];
}

/**
 * Safety net for lost status events (both Step Functions' and SSM's are best effort). For every
 * RUNNING task: if its execution ended, the task is ended as its execution did; if it still runs,
 * each running subtask whose command has ended has that outcome recorded and its step completed,
 * exactly as SSM's event would have done.
 */
export async function sweepRunningTasks(tasks: TaskStore, options: SweepOptions): Promise<SweepResult> {
  const running: TaskRecord[] = [];
  for (let page = 0; ; page++) {
    const found = (await tasks.listTasks({ status: 'RUNNING', page, size: PAGE_SIZE })).tasks;
    running.push(...found);
    if (found.length < PAGE_SIZE) break;
  }
  const result: SweepResult = { fixed: [], completed: [], failed: [] };
  for (const listed of running) {
    try {
      // The listing's index may lag: decide on the task as it is now.
      const task = await tasks.getTask(listed.id);
      if (task?.status !== 'RUNNING') continue;
      const { execution, instanceId } = await describe(task.executor);
      const verdict = sweepVerdict(task, execution, options.handoversSettledBefore);
      if (verdict.action === 'end') {
        await endTask(
          tasks,
          task.id,
          { ...verdict.outcome, ...(instanceId ? { instanceId } : {}) },
          { outputLogGroup: options.outputLogGroup },
        );
        result.fixed.push(task.id);
      } else if (verdict.executionRunning && instanceId) {
        if (await completeEndedCommands(tasks, task, instanceId, options.outputLogGroup))
          result.completed.push(task.id);
      }
    } catch (error) {
      logger.error('Could not sweep the task', { error, taskId: listed.id });
      result.failed.push(listed.id);
    }
  }
  return result;
}

/** Records the outcome of each running subtask whose command ended without its status event. */
async function completeEndedCommands(
  tasks: TaskStore,
  task: TaskRecord,
  instanceId: string,
  outputLogGroup: string,
): Promise<boolean> {
  let completed = false;
  for (const subtask of task.subtasks) {
    if ((subtask.status !== 'RUNNING' && subtask.status !== 'CANCELING') || !subtask.commandId) continue;
    const invocation = await readInvocation(subtask.commandId, instanceId);
    if (!invocation || !hasEnded(invocation)) continue;
    if ((await recordCommandOutcome(tasks, invocation, outputLogGroup)) === 'completed') {
      logger.warn('Recorded a command that ended without its status event', {
        taskId: task.id,
        commandId: subtask.commandId,
        status: invocation.status,
      });
      completed = true;
    }
  }
  return completed;
}

async function describe(
  executionArn: string,
): Promise<{ execution: ExecutionView | undefined; instanceId?: string }> {
  try {
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    return {
      execution: {
        status: (described.status ?? 'RUNNING') as ExecutionStatus,
        ...(described.stopDate ? { stopDate: described.stopDate } : {}),
        ...(described.error ? { error: described.error } : {}),
        ...(described.cause ? { cause: described.cause } : {}),
      },
      ...instanceOf(described.input),
    };
  } catch (error) {
    if (error instanceof Error && error.name === 'ExecutionDoesNotExist') return { execution: undefined };
    throw error;
  }
}

/** The instance the execution sends its commands to, from its input. */
function instanceOf(input: string | undefined): { instanceId?: string } {
  try {
    const parsed: unknown = JSON.parse(input ?? '{}');
    if (
      parsed &&
      typeof parsed === 'object' &&
      'instanceId' in parsed &&
      typeof parsed.instanceId === 'string'
    )
      return { instanceId: parsed.instanceId };
  } catch {
    // Not JSON: no instance to ask SSM about.
  }
  return {};
}
