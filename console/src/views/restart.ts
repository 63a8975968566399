import type { DryRunAnswer } from '../../../functions/core/batch-dry-run.ts';
import { mayCall } from '../../../functions/http/route-permissions.ts';
import { api, errorText } from '../api.ts';
import { signedIn } from '../auth.ts';
import { confirmAction } from '../dialog.ts';
import { h, replace } from '../dom.ts';
import { routeHash } from '../router.ts';
import type { TaskView } from './types.ts';

/** A fleet restart: the hosts and rollout controls, a dry run to see the plan, then the real run. */
export function restartView(root: HTMLElement, hostIds: string): void {
  if (!mayCall('batchRestartAgents', signedIn()?.permissions ?? new Set())) {
    replace(
      root,
      h('h1', null, 'Restart hosts'),
      h('p', { class: 'error' }, 'Restarting hosts needs the HOST_MANAGER permission.'),
    );
    return;
  }
  const hosts = h('input', { name: 'hostIds', required: true, placeholder: '1,2,3', value: hostIds });
  const concurrency = h('input', { name: 'maxConcurrency', placeholder: 'default' });
  const errors = h('input', { name: 'maxErrors', placeholder: 'default' });
  const health = h('input', { name: 'healthCheckSeconds', inputmode: 'numeric', placeholder: 'default' });
  const prohibit = h('input', { type: 'checkbox', name: 'prohibitRollback' });
  const result = h('div', { class: 'dry-run' });
  const limit = (raw: string) =>
    raw.trim() === '' ? undefined : /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : raw.trim();
  const request = (dryRun: boolean) => {
    const rollout = {
      ...(limit(concurrency.value) === undefined ? {} : { maxConcurrency: limit(concurrency.value) }),
      ...(limit(errors.value) === undefined ? {} : { maxErrors: limit(errors.value) }),
      ...(health.value.trim() === '' ? {} : { healthCheckSeconds: Number(health.value.trim()) }),
    };
    return {
      hostIds: hosts.value
        .split(/[\s,]+/)
        .filter(Boolean)
        .map((id) => (/^\d+$/.test(id) ? Number(id) : id)),
      ...(Object.keys(rollout).length ? { rollout } : {}),
      ...(dryRun ? { dryRun: true } : {}),
      ...(prohibit.checked ? { prohibitRollback: true } : {}),
    };
  };
  const dryRun = async () => {
    replace(result, 'Planning…');
    try {
      const plan = await api<DryRunAnswer>('batchRestartAgents', { body: request(true) });
      replace(
        result,
        h('h2', null, 'Dry run: nothing was started'),
        h(
          'p',
          null,
          `${plan.hostCount} hosts in ${plan.waves} waves, about ${plan.estimatedSeconds} s; max concurrency ${plan.rollout.maxConcurrency}, max errors ${plan.rollout.maxErrors}.`,
        ),
        h(
          'table',
          { class: 'plan' },
          h(
            'thead',
            null,
            h(
              'tr',
              null,
              ['Host', 'Plan', 'Wave', 'Why not'].map((t) => h('th', null, t)),
            ),
          ),
          h(
            'tbody',
            null,
            plan.hosts.map((host) =>
              h(
                'tr',
                { 'data-host-id': host.hostId },
                h('td', null, String(host.hostId)),
                h('td', null, host.plan),
                h('td', null, host.wave === undefined ? '—' : String(host.wave)),
                h('td', null, host.reason ?? ''),
              ),
            ),
          ),
        ),
      );
    } catch (error) {
      replace(result, h('p', { class: 'error', role: 'alert' }, `Dry run refused: ${errorText(error)}`));
    }
  };
  const run = async (event: Event) => {
    event.preventDefault();
    const body = request(false);
    if (
      !(await confirmAction(
        `Restart ${body.hostIds.length} hosts?`,
        `Restarts the OCP agent of hosts ${body.hostIds.join(', ')} as a rollout.`,
        'Restart',
      ))
    )
      return;
    try {
      const task = await api<TaskView>('batchRestartAgents', { body });
      location.hash = routeHash({ page: 'task', taskId: task.id });
    } catch (error) {
      replace(result, h('p', { class: 'error', role: 'alert' }, `Restart refused: ${errorText(error)}`));
    }
  };
  replace(
    root,
    h('header', { class: 'page-header' }, h('h1', null, 'Restart hosts')),
    h(
      'form',
      { class: 'restart', onsubmit: run },
      h('label', null, 'Host ids ', hosts),
      h('label', null, 'Max concurrency ', concurrency, h('small', null, ' hosts or %')),
      h('label', null, 'Max errors ', errors, h('small', null, ' hosts or %')),
      h('label', null, 'Health check (s) ', health),
      h('label', { class: 'check' }, prohibit, ' Prohibit rollback'),
      h(
        'menu',
        null,
        h(
          'button',
          { type: 'button', class: 'secondary', 'data-action': 'dryRun', onclick: dryRun },
          'Dry run',
        ),
        h('button', { type: 'submit', class: 'danger', 'data-action': 'batchRestartAgents' }, 'Restart'),
      ),
    ),
    result,
  );
}
