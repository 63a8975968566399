import type { OcpTask } from '../../../functions/core/task.ts';
import { actionButtons } from '../actions.ts';
import { api, errorText } from '../api.ts';
import { duration, h, replace, statusBadge, time } from '../dom.ts';
import { ENDED_INTERVAL_MS, LIVE_INTERVAL_MS, poll } from '../poll.ts';
import { routeHash } from '../router.ts';
import { batchView } from './batch.ts';
import { taskHeader } from './task-header.ts';
import { isBatch, type TaskView } from './types.ts';

/** A task, live: its chain of subtasks (one host) or its host × subtask grid (a fleet). */
export async function taskView(root: HTMLElement, taskId: number, signal: AbortSignal): Promise<void> {
  replace(root, h('div', { class: 'loading' }, `Loading task ${taskId}…`));
  let shown = '';
  let wake: () => void = () => {};
  const refresh = () => wake();
  await poll(LIVE_INTERVAL_MS, signal, async () => {
    let task: TaskView;
    try {
      task = await api<TaskView>('getTask', { path: { id: taskId }, signal });
    } catch (error) {
      if (signal.aborted) return false;
      replace(
        root,
        h('p', { class: 'error', role: 'alert' }, `Cannot read task ${taskId}: ${errorText(error)}`),
      );
      return false;
    }
    if (signal.aborted) return false;
    const snapshot = JSON.stringify(task);
    if (snapshot !== shown || task.status === 'RUNNING') {
      shown = snapshot;
      replace(root, isBatch(task) ? batchView(task, refresh) : chainView(task, refresh));
    }
    if (task.status !== 'RUNNING') {
      // Ended: read it again after an action here, or now and then in case one came from elsewhere (the CLI).
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ENDED_INTERVAL_MS);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
        signal.addEventListener('abort', wake, { once: true });
      });
      wake = () => {};
    }
    return true;
  });
}

function chainView(task: OcpTask, refresh: () => void): HTMLElement {
  return h(
    'section',
    { class: 'task', 'data-task-status': task.status },
    taskHeader(task, refresh),
    h(
      'ol',
      { class: 'chain' },
      task.subtasks.map((subtask) =>
        h(
          'li',
          {
            class: `subtask status-${subtask.status}`,
            'data-subtask-id': subtask.id,
            'data-status': subtask.status,
          },
          h(
            'div',
            { class: 'subtask-head' },
            h('strong', null, subtask.name),
            ' ',
            statusBadge(subtask.status),
            h('span', { class: 'actions' }, actionButtons(task, subtask.id, refresh)),
          ),
          h(
            'div',
            { class: 'subtask-meta' },
            `#${subtask.id} · attempt ${subtask.runTime} · ${subtask.operation} · `,
            subtask.startTime
              ? `${time(subtask.startTime)} → ${subtask.endTime ? time(subtask.endTime) : '…'} (${duration(subtask.startTime, subtask.endTime)})`
              : 'not started',
            ' · ',
            h('a', { href: routeHash({ page: 'subtask', taskId: task.id, subtaskId: subtask.id }) }, 'log'),
          ),
          subtask.error ? h('pre', { class: 'error' }, subtask.error) : null,
        ),
      ),
    ),
  );
}
