import { actionButtons } from '../actions.ts';
import { count, duration, h, statusBadge, time } from '../dom.ts';
import { routeHash } from '../router.ts';
import { isBatch, type TaskView } from './types.ts';

/** A task's facts and the actions offered on it. */
export function taskHeader(task: TaskView, refresh: () => void, title = `Task ${task.id}`): HTMLElement {
  return h(
    'header',
    { class: 'page-header' },
    h('h1', null, title, ' ', statusBadge(task.status)),
    h('div', { class: 'actions' }, actionButtons(task, undefined, refresh)),
    h(
      'dl',
      { class: 'facts' },
      h('dt', null, 'Name'),
      h('dd', null, task.name),
      h('dt', null, 'Scope'),
      h(
        'dd',
        null,
        isBatch(task)
          ? count(task.hosts.length, 'host')
          : h(
              'a',
              { href: routeHash({ page: 'hosts', hostIds: String(task.hostId), pageNumber: 1 }) },
              `host ${task.hostId}`,
            ),
      ),
      h('dt', null, 'Operation'),
      h('dd', null, task.operation),
      h('dt', null, 'Creator'),
      h('dd', null, task.creator),
      h('dt', null, 'Started'),
      h('dd', null, time(task.startTime)),
      h('dt', null, 'End'),
      h(
        'dd',
        null,
        task.endTime
          ? `${time(task.endTime)} (took ${duration(task.startTime, task.endTime)})`
          : `running for ${duration(task.startTime, undefined)}`,
      ),
      task.context.stringMap.reason
        ? [h('dt', null, 'Reason'), h('dd', null, task.context.stringMap.reason)]
        : null,
    ),
  );
}
