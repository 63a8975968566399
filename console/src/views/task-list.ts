import { TASK_STATUSES } from '../../../functions/core/task-statuses.ts';
import { api, errorText } from '../api.ts';
import { holds } from '../auth.ts';
import { count, duration, h, replace, statusBadge, time } from '../dom.ts';
import { routeHash, type TaskFilter } from '../router.ts';
import type { TaskPage } from './types.ts';

const PAGE_SIZE = 20;

export async function taskListView(
  root: HTMLElement,
  filter: TaskFilter,
  signal: AbortSignal,
): Promise<void> {
  const go = (next: TaskFilter) => {
    location.hash = routeHash({ page: 'tasks', filter: next });
  };
  const hostInput = h('input', {
    name: 'hostId',
    inputmode: 'numeric',
    placeholder: 'any',
    value: filter.hostId ?? '',
  });
  const nameInput = h('input', { name: 'name', placeholder: 'any', value: filter.name ?? '' });
  const statusSelect = h(
    'select',
    { name: 'status' },
    ['', ...TASK_STATUSES].map((status) =>
      h('option', { value: status, selected: status === (filter.status ?? '') }, status || 'any'),
    ),
  );
  const form = h(
    'form',
    {
      class: 'filters',
      onsubmit: (event: Event) => {
        event.preventDefault();
        go({
          ...(hostInput.value.trim() ? { hostId: hostInput.value.trim() } : {}),
          ...(statusSelect.value ? { status: statusSelect.value as TaskFilter['status'] } : {}),
          ...(nameInput.value.trim() ? { name: nameInput.value.trim() } : {}),
          page: 1,
        });
      },
    },
    h('label', null, 'Host ', hostInput),
    h('label', null, 'Status ', statusSelect),
    h('label', null, 'Name ', nameInput),
    h('button', { type: 'submit' }, 'Filter'),
  );
  const body = h('div', { class: 'loading' }, 'Loading tasks…');
  replace(
    root,
    h(
      'header',
      { class: 'page-header' },
      h('h1', null, 'Tasks'),
      holds('HOST_MANAGER')
        ? h('a', { class: 'button', href: routeHash({ page: 'restart', hostIds: '' }) }, 'Restart hosts…')
        : null,
    ),
    form,
    body,
  );
  let page: TaskPage;
  try {
    page = await api<TaskPage>('listTasks', {
      query: {
        hostId: filter.hostId,
        status: filter.status,
        name: filter.name,
        page: filter.page,
        size: PAGE_SIZE,
      },
      signal,
    });
  } catch (error) {
    replace(body, h('p', { class: 'error', role: 'alert' }, `Cannot list tasks: ${errorText(error)}`));
    return;
  }
  if (signal.aborted) return;
  const rows = page.contents.map((task) =>
    h(
      'tr',
      { 'data-task-id': task.id },
      h('td', null, h('a', { href: routeHash({ page: 'task', taskId: task.id }) }, String(task.id))),
      h('td', null, task.name),
      h('td', null, task.hostId === undefined ? 'fleet' : `host ${task.hostId}`),
      h('td', null, statusBadge(task.status)),
      h('td', null, task.creator),
      h('td', null, time(task.startTime)),
      h('td', null, duration(task.startTime, task.endTime)),
    ),
  );
  const { number, totalPages, totalElements } = page.page;
  replace(
    body,
    rows.length === 0
      ? h('p', { class: 'empty' }, 'No task matches.')
      : h(
          'table',
          { class: 'tasks', 'data-ready': true },
          h(
            'thead',
            null,
            h(
              'tr',
              null,
              ['Id', 'Name', 'Scope', 'Status', 'Creator', 'Started', 'Took'].map((t) => h('th', null, t)),
            ),
          ),
          h('tbody', null, rows),
        ),
    h(
      'nav',
      { class: 'pager' },
      h(
        'button',
        { type: 'button', disabled: number <= 1, onclick: () => go({ ...filter, page: number - 1 }) },
        '‹ Newer',
      ),
      h('span', null, `Page ${number} of ${Math.max(1, totalPages)} · ${count(totalElements, 'task')}`),
      h(
        'button',
        {
          type: 'button',
          disabled: number >= totalPages,
          onclick: () => go({ ...filter, page: number + 1 }),
        },
        'Older ›',
      ),
    ),
  );
  performance.mark('console:task-list-rendered');
}
