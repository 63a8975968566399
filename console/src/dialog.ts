import { h } from './dom.ts';

/** Asks the operator to confirm an action in a modal <dialog>; resolves true only on "Confirm". */
export function confirmAction(title: string, details: string, confirmLabel: string): Promise<boolean> {
  return new Promise((resolve) => {
    const dialog = h(
      'dialog',
      { class: 'confirm', 'aria-label': title },
      h(
        'form',
        { method: 'dialog' },
        h('h2', null, title),
        h('p', null, details),
        h(
          'menu',
          null,
          h('button', { value: 'cancel', type: 'submit', class: 'secondary' }, 'Back'),
          h('button', { value: 'confirm', type: 'submit', class: 'danger' }, confirmLabel),
        ),
      ),
    );
    dialog.addEventListener('close', () => {
      resolve(dialog.returnValue === 'confirm');
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}
