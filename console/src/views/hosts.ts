import type { AgentStatus } from '../../../functions/core/agent-status.ts';
import type { OcpPage } from '../../../functions/core/envelope.ts';
import type { OcpHost } from '../../../functions/core/host-view.ts';
import { mayCall } from '../../../functions/http/route-permissions.ts';
import { api, errorText } from '../api.ts';
import { signedIn } from '../auth.ts';
import { confirmAction } from '../dialog.ts';
import { count, h, replace, statusBadge, time } from '../dom.ts';
import { notify } from '../notice.ts';
import { routeHash } from '../router.ts';
import type { TaskView } from './types.ts';

const PAGE_SIZE = 20;

/** The hosts: registration, lock (which task), agent status on demand, and a restart per host. */
export async function hostsView(
  root: HTMLElement,
  hostIds: string,
  pageNumber: number,
  signal: AbortSignal,
): Promise<void> {
  const idInput = h('input', { name: 'id', placeholder: 'e.g. 1,2', value: hostIds });
  const body = h('div', { class: 'loading' }, 'Loading hosts…');
  replace(
    root,
    h('header', { class: 'page-header' }, h('h1', null, 'Hosts')),
    h(
      'form',
      {
        class: 'filters',
        onsubmit: (event: Event) => {
          event.preventDefault();
          location.hash = routeHash({ page: 'hosts', hostIds: idInput.value.trim(), pageNumber: 1 });
        },
      },
      h('label', null, 'Host ids ', idInput),
      h('button', { type: 'submit' }, 'Filter'),
    ),
    body,
  );
  let page: OcpPage<OcpHost>;
  try {
    page = await api<OcpPage<OcpHost>>('listHosts', {
      query: { id: hostIds, page: pageNumber, size: PAGE_SIZE },
      signal,
    });
  } catch (error) {
    replace(body, h('p', { class: 'error', role: 'alert' }, `Cannot list hosts: ${errorText(error)}`));
    return;
  }
  if (signal.aborted) return;
  const permissions = signedIn()?.permissions ?? new Set<string>();
  const canRestart = mayCall('restartAgent', permissions);
  const canCheck = mayCall('getAgentStatus', permissions);
  const { number, totalPages, totalElements } = page.page;
  replace(
    body,
    h(
      'table',
      { class: 'hosts', 'data-ready': true },
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          ['Id', 'Name', 'Instance', 'Agent home', 'Lock', 'Agent', ''].map((t) => h('th', null, t)),
        ),
      ),
      h(
        'tbody',
        null,
        page.contents.map((host) => {
          const agentCell = h('td', { class: 'agent' });
          if (canCheck)
            agentCell.append(
              h(
                'button',
                { type: 'button', class: 'secondary', onclick: () => showAgent(host.id, agentCell) },
                'Check agent',
              ),
            );
          return h(
            'tr',
            { 'data-host-id': host.id },
            h('td', null, String(host.id)),
            h('td', null, host.name ?? '—'),
            h('td', null, h('code', null, host.instanceId)),
            h('td', null, h('code', null, host.agentHome)),
            h(
              'td',
              null,
              host.runningTaskId === null
                ? 'free'
                : h(
                    'a',
                    { href: routeHash({ page: 'task', taskId: host.runningTaskId }) },
                    `task ${host.runningTaskId}`,
                  ),
            ),
            agentCell,
            h(
              'td',
              null,
              canRestart && !host.busy
                ? h(
                    'button',
                    {
                      type: 'button',
                      class: 'action',
                      'data-action': 'restartAgent',
                      onclick: () => restart(host.id),
                    },
                    'Restart',
                  )
                : null,
            ),
          );
        }),
      ),
    ),
    h(
      'nav',
      { class: 'pager' },
      h(
        'button',
        {
          type: 'button',
          disabled: number <= 1,
          onclick: () => {
            location.hash = routeHash({ page: 'hosts', hostIds, pageNumber: number - 1 });
          },
        },
        '‹ Previous',
      ),
      h('span', null, `Page ${number} of ${Math.max(1, totalPages)} · ${count(totalElements, 'host')}`),
      h(
        'button',
        {
          type: 'button',
          disabled: number >= totalPages,
          onclick: () => {
            location.hash = routeHash({ page: 'hosts', hostIds, pageNumber: number + 1 });
          },
        },
        'Next ›',
      ),
    ),
  );
}

async function showAgent(hostId: number, cell: HTMLElement): Promise<void> {
  replace(cell, 'checking…');
  try {
    const agent = await api<AgentStatus>('getAgentStatus', { path: { hostId } });
    replace(
      cell,
      statusBadge(agent.status),
      h('div', { class: 'agent-summary' }, agent.summary, ` (${time(agent.checkedAt)})`),
      h(
        'ul',
        { class: 'processes' },
        agent.processes.map((p) =>
          h(
            'li',
            { class: p.running ? 'running' : 'stopped' },
            `${p.name} ${p.running ? `pid ${p.pid}` : 'not running'}`,
          ),
        ),
      ),
    );
  } catch (error) {
    replace(cell, h('span', { class: 'error' }, errorText(error)));
  }
}

async function restart(hostId: number): Promise<void> {
  if (
    !(await confirmAction(
      `Restart the agent of host ${hostId}?`,
      `Stops and starts every OCP agent process of host ${hostId}.`,
      'Restart',
    ))
  )
    return;
  try {
    const task = await api<TaskView>('restartAgent', { path: { hostId }, body: {} });
    location.hash = routeHash({ page: 'task', taskId: task.id });
  } catch (error) {
    notify(`Restart of host ${hostId} failed: ${errorText(error)}`, 'error');
  }
}
