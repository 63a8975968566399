import { BATCH_HOST_STATUSES } from '../../../functions/core/batch-host-status.ts';
import type { OcpBatchTask } from '../../../functions/core/batch-task-view.ts';
import { statusSymbol } from '../../../functions/core/status-symbols.ts';
import { batchGrid } from '../batch-grid.ts';
import { h, statusBadge } from '../dom.ts';
import { routeHash } from '../router.ts';
import { taskHeader } from './task-header.ts';

/** A fleet task: counts by host status, the failing hosts with their errors, and the host × subtask grid. */
export function batchView(batch: OcpBatchTask & { hostId?: undefined }, refresh: () => void): HTMLElement {
  const grid = batchGrid(batch);
  const { maxConcurrency, maxErrors } = batch.rollout.asked;
  return h(
    'section',
    { class: 'batch', 'data-task-status': batch.status },
    taskHeader(batch, refresh, `Fleet task ${batch.id}`),
    h(
      'p',
      { class: 'rollout' },
      `Rollout: max concurrency ${maxConcurrency} · max errors ${maxErrors} · health check ${batch.rollout.healthCheckSeconds} s · `,
      h('progress', { max: batch.hosts.length || 1, value: grid.done }),
      ` ${grid.done}/${batch.hosts.length} hosts done`,
    ),
    h(
      'ul',
      { class: 'counts' },
      BATCH_HOST_STATUSES.map((status) =>
        h(
          'li',
          {
            class: `count status-${status}${grid.counts[status] === 0 ? ' zero' : ''}`,
            'data-count': status,
          },
          h('span', null, String(grid.counts[status])),
          ` ${status}`,
        ),
      ),
    ),
    grid.failing.length
      ? h(
          'section',
          { class: 'failing' },
          h('h2', null, 'Failing hosts'),
          h(
            'ul',
            null,
            grid.failing.map((host) =>
              h(
                'li',
                { 'data-host-id': host.hostId },
                `host ${host.hostId}`,
                host.taskId
                  ? [
                      ' · ',
                      h(
                        'a',
                        { href: routeHash({ page: 'task', taskId: host.taskId }) },
                        `task ${host.taskId}`,
                      ),
                    ]
                  : null,
                host.failedSubtask ? ` · at "${host.failedSubtask}"` : null,
                host.error ? h('pre', { class: 'error' }, host.error) : null,
                host.reason ? h('p', null, host.reason) : null,
              ),
            ),
          ),
        )
      : null,
    h(
      'table',
      { class: 'grid' },
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          h('th', null, 'Host'),
          h('th', null, 'Status'),
          grid.columns.map((name) => h('th', null, name)),
        ),
      ),
      h(
        'tbody',
        null,
        grid.rows.map(({ host, cells }) =>
          h(
            'tr',
            { 'data-host-id': host.hostId },
            h(
              'th',
              null,
              host.taskId
                ? h('a', { href: routeHash({ page: 'task', taskId: host.taskId }) }, `host ${host.hostId}`)
                : `host ${host.hostId}`,
            ),
            h(
              'td',
              null,
              statusBadge(host.status),
              host.reason ? h('div', { class: 'reason' }, host.reason) : null,
            ),
            cells.map((cell) =>
              cell
                ? h(
                    'td',
                    {
                      class: `cell status-${cell.status}`,
                      title: `${cell.status} · attempt ${cell.runTime}${cell.error ? `\n${cell.error}` : ''}`,
                    },
                    h(
                      'a',
                      { href: routeHash({ page: 'subtask', taskId: batch.id, subtaskId: cell.subtaskId }) },
                      statusSymbol(cell.status),
                    ),
                  )
                : h('td', { class: 'cell' }, ''),
            ),
          ),
        ),
      ),
    ),
  );
}
