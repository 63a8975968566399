import { CONSOLE_CONFIG_PATH } from '../../functions/core/console.ts';
import { type ConsoleConfig, completeCognitoSignIn, configure, signedIn, signOut } from './auth.ts';
import { h, replace } from './dom.ts';
import { clearNotice, notify } from './notice.ts';
import { parseRoute } from './router.ts';
import { hostsView } from './views/hosts.ts';
import { restartView } from './views/restart.ts';
import { signInView } from './views/sign-in.ts';
import { subtaskLogView } from './views/subtask-log.ts';
import { taskView } from './views/task.ts';
import { taskListView } from './views/task-list.ts';

const view = document.getElementById('view')!;
const account = document.getElementById('account')!;
let current: AbortController | undefined;

/** Shows the page the hash names (or sign-in without a session); the previous page stops polling. */
function show(notice?: string): void {
  current?.abort();
  current = new AbortController();
  const signal = current.signal;
  const facts = signedIn();
  document.body.dataset.signedIn = String(facts !== undefined);
  if (!facts) {
    replace(account);
    signInView(view, notice);
    return;
  }
  replace(
    account,
    h('span', { class: 'user', title: [...facts.permissions].join(', ') }, facts.user),
    h(
      'button',
      { type: 'button', class: 'secondary', 'data-sign-out': true, onclick: () => signOut() },
      'Sign out',
    ),
  );
  if (notice) notify(notice, 'info');
  const route = parseRoute(location.hash);
  const shown = (() => {
    switch (route.page) {
      case 'tasks':
        return taskListView(view, route.filter, signal);
      case 'task':
        return taskView(view, route.taskId, signal);
      case 'subtask':
        return subtaskLogView(view, route.taskId, route.subtaskId, signal);
      case 'hosts':
        return hostsView(view, route.hostIds, route.pageNumber, signal);
      case 'restart':
        return restartView(view, route.hostIds);
      case 'not-found':
        return replace(
          view,
          h('h1', null, 'No such page'),
          h('p', null, h('a', { href: '#/tasks' }, 'Go to the tasks')),
        );
    }
  })();
  Promise.resolve(shown).catch((error: unknown) =>
    notify(error instanceof Error ? error.message : String(error), 'error'),
  );
}

async function start(): Promise<void> {
  const response = await fetch(CONSOLE_CONFIG_PATH, { cache: 'no-store' });
  if (!response.ok) throw new Error(`Cannot load the console's settings (HTTP ${response.status}).`);
  configure((await response.json()) as ConsoleConfig, (notice) => show(notice));
  window.addEventListener('hashchange', () => {
    clearNotice();
    show();
  });
  try {
    if (await completeCognitoSignIn()) return; // signed in: useToken showed the page
  } catch (error) {
    return show(error instanceof Error ? error.message : String(error));
  }
  show();
}

start().catch((error: unknown) =>
  replace(
    view,
    h('p', { class: 'error', role: 'alert' }, error instanceof Error ? error.message : String(error)),
  ),
);
