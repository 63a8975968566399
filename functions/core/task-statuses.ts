/**
 * The values a task's and a subtask's status, operation and type take. Free of other imports: the
 * console reads them without the task model.
 */
export const TASK_STATUSES = ['RUNNING', 'FAILED', 'SUCCESSFUL'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];
/** OCP's subtask statuses, and OCP Express's ROLLBACK_SKIP: not run because the task was rolled back. */
export const SUBTASK_STATUSES = [
  'PENDING',
  'READY',
  'RUNNING',
  'CANCELING',
  'FAILED',
  'SUCCESSFUL',
  'ROLLBACK_SKIP',
] as const;
export type SubtaskStatus = (typeof SUBTASK_STATUSES)[number];
export const OPERATIONS = ['EXECUTE', 'RETRY', 'ROLLBACK', 'SKIP', 'CANCEL'] as const;
export type Operation = (typeof OPERATIONS)[number];
/** How the task was started: MANUAL from the API; OCP's names for event and schedule triggers. */
export const TASK_TYPES = ['MANUAL', 'SCHEDULED', 'SYS_SCHEDULED', 'SYS_ONECE'] as const;
export type TaskType = (typeof TASK_TYPES)[number];
