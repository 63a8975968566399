import { TaskStore } from '#store/task-store';
import { sweepRunningTasks } from '#use-cases/sweep-running-tasks';
import { logger } from './logger.ts';
import { taskTableName } from './runtime-config.ts';

const tasks = new TaskStore(taskTableName());

/** Scheduled: ends RUNNING tasks whose execution ended without its status event reaching the product. */
export const handler = async (): Promise<{ fixed: number[] }> => {
  const fixed = await sweepRunningTasks(tasks);
  if (fixed.length) logger.warn('Ended tasks whose execution had ended unnoticed', { fixed });
  return { fixed };
};
