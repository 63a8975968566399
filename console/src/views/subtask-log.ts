import { actionButtons } from '../actions.ts';
import { api, errorText } from '../api.ts';
import { h, replace, statusBadge } from '../dom.ts';
import { LIVE_INTERVAL_MS, poll } from '../poll.ts';
import { routeHash } from '../router.ts';
import { taskHeader } from './task-header.ts';
import type { TaskView } from './types.ts';

interface LogAnswer {
  log: string;
  truncated: boolean;
  running: boolean;
  cursor: string;
}

/**
 * A subtask's log, tailed live: each read passes the last answer's cursor and appends only what is new
 * (core/live-log.ts). Reading stops once the subtask's attempt has ended and the task no longer runs.
 */
export async function subtaskLogView(
  root: HTMLElement,
  taskId: number,
  subtaskId: number,
  signal: AbortSignal,
): Promise<void> {
  const output = h('pre', { class: 'log', 'data-subtask-log': subtaskId, tabindex: 0 });
  const head = h('div', { class: 'loading' }, 'Loading…');
  const state = h('p', { class: 'log-state' });
  replace(
    root,
    h('p', null, h('a', { href: routeHash({ page: 'task', taskId }) }, `← task ${taskId}`)),
    head,
    state,
    output,
  );
  let cursor: string | undefined;
  let shownTask = '';
  let wake: () => void = () => {};
  await poll(LIVE_INTERVAL_MS, signal, async () => {
    let task: TaskView;
    let answer: LogAnswer;
    try {
      task = await api<TaskView>('getTask', { path: { id: taskId }, signal });
      answer = await api<LogAnswer>('getSubtaskLog', {
        path: { id: taskId, subtaskId },
        query: { cursor },
        signal,
      });
    } catch (error) {
      if (signal.aborted) return false;
      replace(
        state,
        h('span', { class: 'error', role: 'alert' }, `Cannot read the log: ${errorText(error)}`),
      );
      return false;
    }
    if (signal.aborted) return false;
    const subtask = task.subtasks.find((candidate) => candidate.id === subtaskId);
    const snapshot = JSON.stringify(task);
    if (snapshot !== shownTask) {
      shownTask = snapshot;
      replace(
        head,
        taskHeader(task, () => wake(), `Task ${task.id} · subtask ${subtaskId}`),
        subtask
          ? h(
              'h2',
              { class: 'subtask-head' },
              subtask.name,
              ' ',
              statusBadge(subtask.status),
              ` · attempt ${subtask.runTime}`,
              h(
                'span',
                { class: 'actions' },
                actionButtons(task, subtaskId, () => wake()),
              ),
            )
          : null,
        subtask?.error ? h('pre', { class: 'error' }, subtask.error) : null,
      );
    }
    const atBottom = output.scrollTop + output.clientHeight >= output.scrollHeight - 4;
    output.append(answer.log);
    cursor = answer.cursor;
    if (atBottom) output.scrollTop = output.scrollHeight;
    const following = answer.running || task.status === 'RUNNING';
    replace(
      state,
      following ? h('span', { class: 'live' }, '● following live') : 'Ended: the whole log is shown.',
      answer.truncated ? ' Part of the output was cut by SSM.' : '',
    );
    output.dataset.following = String(following);
    if (!following) {
      // Ended: wait for an action (retry, skip) to reopen the task, then follow its new attempt.
      await new Promise<void>((resolve) => {
        wake = resolve;
        signal.addEventListener('abort', () => resolve(), { once: true });
      });
      wake = () => {};
    }
    return true;
  });
}
