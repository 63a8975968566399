import type { OcpBatchListing, OcpBatchTask } from '../../../functions/core/batch-task-view.ts';
import type { OcpPage } from '../../../functions/core/envelope.ts';
import type { OcpTask } from '../../../functions/core/task.ts';

/** A task as GET /api/v2/tasks/instances/{id} answers it: one host's restart, or a batch (with `hosts`). */
export type TaskView = (OcpTask & { hosts?: undefined }) | (OcpBatchTask & { hostId?: undefined });
export type ListedTask = OcpTask | (OcpBatchListing & { hostId?: undefined });
export type TaskPage = OcpPage<ListedTask>;

export const isBatch = (task: TaskView): task is OcpBatchTask & { hostId?: undefined } =>
  Array.isArray(task.hosts);
