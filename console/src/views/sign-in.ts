import { consoleConfig, signInLocally, startCognitoSignIn, useToken } from '../auth.ts';
import { h, replace } from '../dom.ts';

/** Sign-in: local mode's one click (loopback only), Cognito's hosted login, or a pasted token. */
export function signInView(root: HTMLElement, notice?: string): void {
  const config = consoleConfig();
  const problem = h('p', { class: 'error', role: 'alert', hidden: !notice }, notice ?? '');
  const fail = (error: unknown) => {
    problem.textContent = error instanceof Error ? error.message : String(error);
    problem.hidden = false;
  };
  const pasted = h('textarea', {
    name: 'token',
    rows: 4,
    autocomplete: 'off',
    spellcheck: 'false',
    placeholder: 'eyJ…',
  });
  replace(
    root,
    h(
      'section',
      { class: 'sign-in' },
      h('h1', null, 'Sign in to the OCP agent task center'),
      problem,
      config.loopbackSignIn
        ? h(
            'button',
            {
              type: 'button',
              class: 'primary',
              'data-sign-in': 'local',
              onclick: () => signInLocally().catch(fail),
            },
            'Sign in locally',
          )
        : null,
      config.cognito
        ? h(
            'button',
            {
              type: 'button',
              class: 'primary',
              'data-sign-in': 'cognito',
              onclick: () => startCognitoSignIn().catch(fail),
            },
            'Sign in with Cognito',
          )
        : null,
      h(
        'form',
        {
          class: 'paste',
          onsubmit: (event: Event) => {
            event.preventDefault();
            try {
              useToken(pasted.value);
              pasted.value = '';
            } catch (error) {
              fail(error);
            }
          },
        },
        h('label', null, 'Or paste a token', pasted),
        h('button', { type: 'submit', 'data-sign-in': 'paste' }, 'Use this token'),
      ),
      h(
        'p',
        { class: 'hint' },
        'The token stays in this tab’s memory only: reloading the page signs you out.',
      ),
    ),
  );
  performance.mark('console:sign-in-rendered');
}
