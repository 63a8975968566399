import { allowedTaskActions, type ShownTask } from '../../functions/core/task-actions-allowed.ts';
import { mayCall } from '../../functions/http/route-permissions.ts';
import type { RouteId } from '../../functions/http/routes.ts';

/** An action the console offers on a task: its route, and what the button and confirmation say. */
export interface OfferedAction {
  route: RouteId;
  label: string;
  /** The subtask acted on, for skip and cancel of a subtask. */
  subtaskId?: number;
  confirmation: string;
}

/**
 * The actions to show for a task: those its state allows (core/task-actions-allowed.ts, the rules the
 * API enforces) and the caller's permissions allow (http/route-permissions.ts). The API still checks.
 */
export function offeredActions(
  task: ShownTask & { id: number; subtasks: readonly { id: number; name: string; status: string }[] },
  permissions: ReadonlySet<string>,
  now: Date,
): OfferedAction[] {
  const allowed = allowedTaskActions(task as ShownTask, now);
  const batch = task.hostId === undefined;
  const offered: OfferedAction[] = [];
  if (allowed.retry)
    offered.push({
      route: 'retryTask',
      label: 'Retry',
      confirmation: batch
        ? `Retry batch task ${task.id}: its hosts that did not succeed restart again.`
        : `Retry task ${task.id} from its failed subtask; the subtasks that succeeded are kept.`,
    });
  if (allowed.rollback)
    offered.push({
      route: 'rollbackTask',
      label: 'Roll back',
      confirmation: `Roll back task ${task.id}: start all OCP agent processes of host ${task.hostId} again.`,
    });
  if (allowed.cancel)
    offered.push({
      route: 'cancelTask',
      label: 'Cancel',
      confirmation: `Cancel batch task ${task.id}: no host starts any more and running hosts are cancelled.`,
    });
  for (const subtask of task.subtasks) {
    if (allowed.skip.has(subtask.id))
      offered.push({
        route: 'skipSubtask',
        label: 'Skip',
        subtaskId: subtask.id,
        confirmation: `Mark subtask ${subtask.id} "${subtask.name}" SUCCESSFUL without running it and go on from the next.`,
      });
    if (allowed.cancelSubtask.has(subtask.id))
      offered.push({
        route: 'cancelSubtask',
        label: 'Cancel',
        subtaskId: subtask.id,
        confirmation: `Cancel the running subtask ${subtask.id} "${subtask.name}": its command is stopped and the task fails.`,
      });
  }
  return offered.filter((action) => mayCall(action.route, permissions));
}
