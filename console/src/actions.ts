import { api, errorText } from './api.ts';
import { signedIn } from './auth.ts';
import { confirmAction } from './dialog.ts';
import { h } from './dom.ts';
import { notify } from './notice.ts';
import { type OfferedAction, offeredActions } from './offered-actions.ts';

type Task = Parameters<typeof offeredActions>[0];

/** Buttons for the actions offered on a task (subtaskId: on that subtask; none: on the task itself). */
export function actionButtons(
  task: Task,
  subtaskId: number | undefined,
  done: () => void,
): HTMLButtonElement[] {
  const permissions = signedIn()?.permissions ?? new Set<string>();
  return offeredActions(task, permissions, new Date())
    .filter((action) => action.subtaskId === subtaskId)
    .map((action) => actionButton(task.id, action, done));
}

function actionButton(taskId: number, action: OfferedAction, done: () => void): HTMLButtonElement {
  const button = h(
    'button',
    {
      type: 'button',
      class: 'action',
      'data-action': action.route,
      onclick: async () => {
        const what = action.subtaskId === undefined ? `task ${taskId}` : `subtask ${action.subtaskId}`;
        if (!(await confirmAction(`${action.label} ${what}?`, action.confirmation, action.label))) return;
        button.disabled = true;
        try {
          await api(action.route, {
            path: { id: taskId, ...(action.subtaskId ? { subtaskId: action.subtaskId } : {}) },
          });
          notify(`${action.label}: ${what} accepted.`, 'info');
        } catch (error) {
          notify(`${action.label} of ${what} failed: ${errorText(error)}`, 'error');
        } finally {
          button.disabled = false;
          done();
        }
      },
    },
    action.label,
  );
  return button;
}
