import { h, replace } from './dom.ts';

/** One line above the page: what an action answered, or why it failed (the API's message). */
export function notify(message: string, kind: 'info' | 'error'): void {
  const area = document.getElementById('notice');
  if (!area) return;
  replace(
    area,
    h(
      'div',
      { class: `notice notice-${kind}`, role: kind === 'error' ? 'alert' : 'status' },
      h('span', null, message),
      h(
        'button',
        { type: 'button', class: 'link', 'aria-label': 'Dismiss', onclick: () => area.replaceChildren() },
        '×',
      ),
    ),
  );
}

export const clearNotice = () => document.getElementById('notice')?.replaceChildren();
