import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ConsoleConfig, contentSecurityPolicy } from '../../functions/core/console.ts';
import { setDemoMode } from '../../local/demo-hosts.ts';
import type { LocalSystem } from '../../local/local-system.ts';
import { launchBrowser } from '../support/browser.ts';
import { startTestSystem, tokenFor } from '../support/local-client.ts';

const SCREENSHOTS = resolve(__dirname, '..', '..', 'test-output', 'console');
const TASK_DEADLINE_MS = 60_000;

let system: LocalSystem;
let browser: Browser;
let context: BrowserContext;
/** What the page reported that it should not: console errors, uncaught errors, CSP violations. */
let problems: string[];

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  [system, browser] = await Promise.all([
    startTestSystem({ demoHosts: 3, demoMode: 'fast' }),
    launchBrowser(),
  ]);
});

afterAll(async () => {
  await browser?.close();
  await system?.stop();
});

afterEach(async () => {
  await context?.close();
  expect(problems).toEqual([]);
  for (const host of system.hosts) setDemoMode(host, 'fast');
});

const consoleUrl = () => `${system.apiUrl}/console`;

/** A fresh browser profile on the console, recording what it reports. */
async function openConsole(prepare?: (context: BrowserContext) => Promise<void>): Promise<Page> {
  problems = [];
  context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  await prepare?.(context);
  const page = await context.newPage();
  await page.addInitScript(
    "document.addEventListener('securitypolicyviolation', (e) => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI))",
  );
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  const response = await page.goto(consoleUrl());
  expect(response?.status()).toBe(200);
  return page;
}

/** One click on "Sign in locally"; returns the token the page received, to look for it afterwards. */
async function signInLocally(page: Page): Promise<string> {
  const [answer] = await Promise.all([
    page.waitForResponse((response) => response.url().endsWith('/console/local-sign-in')),
    page.getByRole('button', { name: 'Sign in locally' }).click(),
  ]);
  expect(answer.status()).toBe(200);
  const { token } = (await answer.json()) as { token: string };
  await expect.poll(() => page.locator('[data-sign-out]').count()).toBe(1);
  return token;
}

async function pasteToken(page: Page, token: string): Promise<void> {
  await page.getByLabel('Or paste a token').fill(token);
  await page.getByRole('button', { name: 'Use this token' }).click();
}

/** The page's globals the tests read inside page.evaluate (the test project has no DOM types). */
interface PageGlobals {
  location: { hash: string; href: string };
  localStorage: Record<string, string>;
  sessionStorage: Record<string, string>;
  document: { cookie: string };
  notReloaded?: boolean;
}

const go = (page: Page, hash: string) =>
  page.evaluate((target) => {
    (globalThis as unknown as PageGlobals).location.hash = target;
  }, hash);

async function confirmDialog(page: Page, label: string): Promise<void> {
  const dialog = page.getByRole('dialog');
  await dialog.waitFor();
  await dialog.getByRole('button', { name: label, exact: true }).click();
  await dialog.waitFor({ state: 'detached' });
}

async function restartHostFromHostsPage(page: Page, hostId: number): Promise<number> {
  await page.getByRole('link', { name: 'Hosts', exact: true }).click();
  await page.locator(`tr[data-host-id="${hostId}"] [data-action="restartAgent"]`).click();
  await confirmDialog(page, 'Restart');
  await page.waitForURL(/#\/tasks\/\d+$/);
  return Number(new URL(page.url()).hash.split('/')[2]);
}

const taskSection = (page: Page, status: string) =>
  page.locator(`section.task[data-task-status="${status}"]`).waitFor({ timeout: TASK_DEADLINE_MS });

const shot = (page: Page, name: string) =>
  page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });

describe('the web console in real Chromium against local mode', () => {
  it('is served with a strict Content-Security-Policy and no inline script', async () => {
    const response = await fetch(consoleUrl());
    const html = await response.text();

    expect(response.status).toBe(200);
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(html).toContain('<script type="module" src="/console/console.js"></script>');
    expect(html).not.toMatch(/<script>|<style|\sstyle=/);
    problems = [];
  });

  it('signs in with one click, restarts a host and follows it to SUCCESSFUL without reloading', async () => {
    const page = await openConsole();
    await signInLocally(page);
    await page.locator('table.tasks, p.empty').first().waitFor();
    await page.evaluate(() => {
      (globalThis as unknown as PageGlobals).notReloaded = true;
    });

    const taskId = await restartHostFromHostsPage(page, 1);
    await page.locator('section.task[data-task-status="RUNNING"]').waitFor();
    await taskSection(page, 'SUCCESSFUL');

    expect(await page.locator('li.subtask[data-status="SUCCESSFUL"]').count()).toBe(5);
    expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).notReloaded)).toBe(true);
    await shot(page, 'task-chain');
    await go(page, '#/hosts');
    await page.locator('tr[data-host-id="1"]').getByRole('button', { name: 'Check agent' }).click();
    await page.locator('tr[data-host-id="1"] .status-STARTED').waitFor();
    await shot(page, 'hosts');
    await go(page, '#/tasks');
    await page.locator(`table.tasks tr[data-task-id="${taskId}"] .status-SUCCESSFUL`).waitFor();
    await shot(page, 'task-list');

    // The filters and page travel in the hash, as the API's own list parameters.
    await page.getByLabel('Host').fill('2');
    await page.getByLabel('Status').selectOption('SUCCESSFUL');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/#\/tasks\?hostId=2&status=SUCCESSFUL$/);
    await page.locator('p.empty').waitFor();
    await go(page, '#/tasks?hostId=1');
    await page.locator(`table.tasks tr[data-task-id="${taskId}"]`).waitFor();
    expect(await page.getByText('Page 1 of 1 · 1 task').count()).toBe(1);
  });

  it('shows a failed subtask’s log, retries the task after a confirmation and sees it succeed', async () => {
    setDemoMode(system.hosts[1]!, 'broken');
    const page = await openConsole();
    await signInLocally(page);

    const taskId = await restartHostFromHostsPage(page, 2);
    await taskSection(page, 'FAILED');
    const failed = page.locator('li.subtask[data-status="FAILED"]');
    await expect.poll(() => failed.locator('pre.error').textContent()).toBeTruthy();
    await failed.getByRole('link', { name: 'log' }).click();
    const log = page.locator('pre.log[data-following="false"]');
    await log.waitFor();
    expect(await log.textContent()).toContain('demo mode "broken"');
    await shot(page, 'subtask-log');

    setDemoMode(system.hosts[1]!, 'fast');
    await page.locator('[data-action="retryTask"]').click();
    await confirmDialog(page, 'Retry');
    await expect
      .poll(() => page.locator('pre.log').textContent(), { timeout: TASK_DEADLINE_MS })
      .toMatch(/=== attempt 2 (ended )?· .*exit code 0/);
    await page.getByRole('link', { name: `← task ${taskId}` }).click();
    await taskSection(page, 'SUCCESSFUL');
    expect(await page.locator('[data-action]').count()).toBe(0);
  });

  it('notices a retry made elsewhere (the CLI, another operator) on an ended task’s page', async () => {
    setDemoMode(system.hosts[2]!, 'broken');
    const page = await openConsole();
    const token = await signInLocally(page);
    const taskId = await restartHostFromHostsPage(page, 3);
    await taskSection(page, 'FAILED');
    await page.evaluate(() => {
      (globalThis as unknown as PageGlobals).notReloaded = true;
    });

    setDemoMode(system.hosts[2]!, 'fast');
    const retried = await fetch(`${system.apiUrl}/api/v2/tasks/instances/${taskId}/retry`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(retried.status).toBe(200);
    await taskSection(page, 'SUCCESSFUL');
    expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).notReloaded)).toBe(true);
  });

  it('tails a running subtask’s log live and cancels the subtask from it', async () => {
    setDemoMode(system.hosts[0]!, 'hang-stop');
    const manager = await tokenFor(system, 'alice', ['HOST_MANAGER', 'TASK_VIEWER']);
    const started = await fetch(`${system.apiUrl}/compute/hosts/1/agent/restart`, {
      method: 'POST',
      headers: { authorization: `Bearer ${manager}`, 'content-type': 'application/json' },
      body: '{}',
    });
    const task = ((await started.json()) as { data: { id: number; subtasks: { id: number }[] } }).data;
    const stop = task.subtasks[2]!.id;
    const page = await openConsole();
    await signInLocally(page);
    await go(page, `#/tasks/${task.id}/subtasks/${stop}`);

    const log = page.locator('pre.log');
    await expect
      .poll(() => log.textContent(), { timeout: TASK_DEADLINE_MS })
      .toMatch(/=== attempt 1 · command [\w-]+ · running ===\nStopping ocp_agentd[\s\S]*Waiting up to/);
    expect(await log.getAttribute('data-following')).toBe('true');
    await page.getByText('following live').waitFor();
    await shot(page, 'subtask-log-live');

    await page.locator('[data-action="cancelSubtask"]').click();
    await confirmDialog(page, 'Cancel');
    await page.locator('pre.log[data-following="false"]').waitFor({ timeout: TASK_DEADLINE_MS });
    const text = (await log.textContent()) ?? '';
    expect(text).toMatch(/\n=== attempt 1 ended · command [\w-]+ · exit code -?\d+ · [^\n]+ ===$/);
    expect(text.match(/Stopping ocp_agentd \(pid/g)).toHaveLength(1);
  });

  it('asks nothing when the confirmation is cancelled, and shows the API’s message when an action fails', async () => {
    setDemoMode(system.hosts[2]!, 'broken');
    const page = await openConsole();
    await signInLocally(page);
    await restartHostFromHostsPage(page, 3);
    await taskSection(page, 'FAILED');

    await page.locator('[data-action="retryTask"]').click();
    await confirmDialog(page, 'Back');
    await page.waitForTimeout(300);
    expect(await page.locator('section.task').getAttribute('data-task-status')).toBe('FAILED');

    // Retried twice at once: the second is refused by the API, and the page says why.
    await page.locator('[data-action="retryTask"]').click();
    await page.getByRole('dialog').waitFor();
    const url = page.url();
    const id = url.split('/').pop();
    await fetch(`${system.apiUrl}/api/v2/tasks/instances/${id}/retry`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await tokenFor(system, 'bob', ['TASK_MANAGER'])}` },
    });
    await confirmDialog(page, 'Retry');
    await page.locator('.notice-error').waitFor();
    expect(await page.locator('.notice-error').textContent()).toMatch(/Retry of task \d+ failed: .*HTTP 409/);
    problems = problems.filter((problem) => !problem.includes('409'));
  });

  it('restarts a fleet after a dry run and shows its host × subtask grid with the failing host', async () => {
    setDemoMode(system.hosts[2]!, 'broken');
    const page = await openConsole();
    await signInLocally(page);
    await go(page, '#/restart?hosts=1,2,3');
    await page.locator('[data-action="dryRun"]').click();
    await page.locator('table.plan').waitFor();
    expect(await page.locator('table.plan tbody tr').count()).toBe(3);
    expect(await page.locator('.dry-run').textContent()).toContain('nothing was started');

    await page.locator('[data-action="batchRestartAgents"]').click();
    await confirmDialog(page, 'Restart');
    await page.locator('section.batch[data-task-status="FAILED"]').waitFor({ timeout: TASK_DEADLINE_MS });

    expect(await page.locator('[data-count="FAILED"] span').textContent()).toBe('1');
    expect(await page.locator('table.grid tbody tr').count()).toBe(3);
    expect(await page.locator('.failing li[data-host-id="3"]').textContent()).toContain(
      'cannot start pos_proxy',
    );
    expect(await page.locator('[data-action="retryTask"]').count()).toBe(1);
    await shot(page, 'fleet-grid');
  });

  it('offers a viewer (TASK_VIEWER, HOST_VIEWER) no action at all', async () => {
    setDemoMode(system.hosts[0]!, 'broken');
    const manager = await tokenFor(system, 'alice', ['HOST_MANAGER', 'TASK_VIEWER']);
    const started = await fetch(`${system.apiUrl}/compute/hosts/1/agent/restart`, {
      method: 'POST',
      headers: { authorization: `Bearer ${manager}`, 'content-type': 'application/json' },
      body: '{}',
    });
    const taskId = ((await started.json()) as { data: { id: number } }).data.id;
    const page = await openConsole();
    await pasteToken(page, await tokenFor(system, 'victor', ['TASK_VIEWER', 'HOST_VIEWER']));

    await page.locator('table.tasks').waitFor();
    expect(await page.getByRole('link', { name: 'Restart hosts…' }).count()).toBe(0);
    await go(page, `#/tasks/${taskId}`);
    await taskSection(page, 'FAILED');
    expect(await page.locator('button[data-action]').count()).toBe(0);
    await go(page, '#/hosts');
    await page.locator('table.hosts').waitFor();
    expect(await page.locator('button[data-action]').count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Check agent' }).count()).toBe(3);
    await go(page, '#/restart');
    await page.getByText('needs the HOST_MANAGER permission').waitFor();
  });

  it('keeps the token out of the URL, storage and cookies; signing out or a 401 returns to sign-in', async () => {
    const page = await openConsole();
    const token = await signInLocally(page);
    await page.locator('table.tasks, p.empty').first().waitFor();
    await go(page, '#/hosts');
    await page.locator('table.hosts').waitFor();

    const kept = await page.evaluate(() => {
      const { location, localStorage, sessionStorage, document } = globalThis as unknown as PageGlobals;
      return {
        href: location.href,
        local: JSON.stringify({ ...localStorage }),
        session: JSON.stringify({ ...sessionStorage }),
        cookies: document.cookie,
      };
    });
    for (const [where, value] of Object.entries(kept)) expect(value, where).not.toContain(token);
    for (const cookie of await context.cookies()) expect(cookie.value).not.toContain(token);
    expect(kept.local).toBe('{}');

    await page.locator('[data-sign-out]').click();
    await page.getByRole('button', { name: 'Sign in locally' }).waitFor();

    await pasteToken(page, 'not-a-token');
    await page.getByText('This is not a JWT').waitFor();

    const [header, payload] = token.split('.');
    await pasteToken(page, `${header}.${payload}.bm90LXRoZS1zaWduYXR1cmU`);
    await page.getByText('sign in again').waitFor();
    expect(await page.locator('[data-sign-out]').count()).toBe(0);
    problems = problems.filter((problem) => !problem.includes('401'));
  });

  it('says why when the local sign-in is refused or the settings cannot be loaded', async () => {
    const refusal = 'Local sign-in answers only callers on this machine (loopback).';
    const page = await openConsole(async (context) => {
      await context.route('**/console/local-sign-in', (route) =>
        route.fulfill({
          status: 403,
          json: { successful: false, status: 403, error: { code: 30014, message: refusal } },
        }),
      );
    });
    await page.getByRole('button', { name: 'Sign in locally' }).click();
    await page.getByText(`Local sign-in refused (HTTP 403): ${refusal}`).waitFor();
    expect(await page.locator('[data-sign-out]').count()).toBe(0);
    await context.close();

    const broken = await openConsole(async (context) => {
      await context.route('**/console/config.json', (route) => route.fulfill({ status: 500, body: 'boom' }));
    });
    await broken.getByText("Cannot load the console's settings (HTTP 500).").waitFor();
    problems = problems.filter((problem) => !/status of (403|500)/.test(problem));
  });

  describe('signs in through a Cognito hosted login with the authorization code and PKCE', () => {
    const LOGIN = 'https://login.example.test';
    const cognitoConfig = (): ConsoleConfig => ({
      permissionsClaim: 'cognito:groups',
      loopbackSignIn: false,
      cognito: {
        authorizeEndpoint: `${LOGIN}/oauth2/authorize`,
        tokenEndpoint: `${LOGIN}/oauth2/token`,
        clientId: 'console-client',
        redirectUri: consoleUrl(),
        scopes: ['openid', 'email'],
      },
    });

    /** Stands in for the hosted login: the page's config names it, and its two endpoints answer. */
    async function hostedLogin(context: BrowserContext, answer: { state?: string; idToken: string }) {
      const seen: { authorize?: URLSearchParams; token?: URLSearchParams } = {};
      const config = cognitoConfig();
      await context.route(
        (url) => url.pathname === '/console',
        async (route) => {
          const response = await route.fetch();
          await route.fulfill({
            response,
            headers: { ...response.headers(), 'content-security-policy': contentSecurityPolicy(config) },
          });
        },
      );
      await context.route('**/console/config.json', (route) => route.fulfill({ json: config }));
      await context.route(`${LOGIN}/oauth2/authorize?*`, async (route) => {
        seen.authorize = new URL(route.request().url()).searchParams;
        const state = answer.state ?? seen.authorize.get('state');
        // A page of its own that sends the browser back, as the hosted login does once signed in (a
        // 302 answered here would be followed without passing the console's own route again).
        const back = `${consoleUrl()}?code=the-code&state=${encodeURIComponent(state ?? '')}#/hosts`;
        await route.fulfill({
          contentType: 'text/html',
          body: `<!doctype html><script>location.replace(${JSON.stringify(back)})</script>`,
        });
      });
      await context.route(`${LOGIN}/oauth2/token`, async (route) => {
        seen.token = new URLSearchParams(route.request().postData() ?? '');
        await route.fulfill({
          json: { id_token: answer.idToken, access_token: 'unused', token_type: 'Bearer', expires_in: 3600 },
          headers: { 'access-control-allow-origin': '*' },
        });
      });
      return seen;
    }

    it('leaves for the hosted login with an S256 challenge, exchanges the code and comes back signed in', async () => {
      const idToken = await tokenFor(system, 'carol', ['TASK_VIEWER', 'HOST_VIEWER']);
      let seen: Awaited<ReturnType<typeof hostedLogin>> = {};
      const page = await openConsole(async (context) => {
        seen = await hostedLogin(context, { idToken });
      });
      expect(await page.locator('[data-sign-in="local"]').count()).toBe(0);

      await page.locator('[data-sign-in="cognito"]').click();
      await page.locator('table.hosts').waitFor();

      const authorize = Object.fromEntries(seen.authorize!);
      expect(authorize).toMatchObject({
        response_type: 'code',
        client_id: 'console-client',
        redirect_uri: consoleUrl(),
        scope: 'openid email',
        code_challenge_method: 'S256',
      });
      const token = Object.fromEntries(seen.token!);
      expect(token).toMatchObject({
        grant_type: 'authorization_code',
        code: 'the-code',
        client_id: 'console-client',
      });
      expect(createHash('sha256').update(token.code_verifier!).digest('base64url')).toBe(
        authorize.code_challenge,
      );
      expect(new URL(page.url()).search).toBe('');
      expect(await page.locator('#account .user').textContent()).toBe('carol');
      const stored = await page.evaluate(() => {
        const { localStorage, sessionStorage } = globalThis as unknown as PageGlobals;
        return JSON.stringify({ ...localStorage, ...sessionStorage });
      });
      expect(stored).toBe('{}');
    });

    it('refuses an answer whose state is not the one it sent, without asking for tokens', async () => {
      const idToken = await tokenFor(system, 'carol', ['TASK_VIEWER']);
      let seen: Awaited<ReturnType<typeof hostedLogin>> = {};
      const page = await openConsole(async (context) => {
        seen = await hostedLogin(context, { idToken, state: 'forged' });
      });

      await page.locator('[data-sign-in="cognito"]').click();
      await page.getByText('does not match the sign-in this tab started').waitFor();

      expect(seen.token).toBeUndefined();
      expect(await page.locator('[data-sign-out]').count()).toBe(0);
      expect(new URL(page.url()).search).toBe('');
    });
  });
});
