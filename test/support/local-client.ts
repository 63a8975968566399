import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateSigningKey, signLocalToken } from '../../local/jwt.ts';
import { type LocalSystem, type LocalSystemOptions, startLocalSystem } from '../../local/local-system.ts';
import { assertDocumentedAnswer } from './openapi-validator.ts';

/** An OCP envelope as the API returns it. */
export interface Envelope {
  successful: boolean;
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: response bodies are asserted field by field in tests
  data?: any;
  error?: { code: number; message: string; target?: string };
  traceId: string;
  duration: number;
}

/** Local mode for a test file: in-memory DynamoDB, a free API port, demo hosts in a temporary folder. */
export async function startTestSystem(options: Partial<LocalSystemOptions> = {}): Promise<LocalSystem> {
  return startLocalSystem({
    stateDir: mkdtempSync(join(tmpdir(), 'ocp-e2e-')),
    persist: false,
    apiPort: 0,
    demoHosts: 4,
    ...options,
  });
}

/** A bearer token from local mode's own token helper. */
export async function tokenFor(system: LocalSystem, user: string, permissions: string[]): Promise<string> {
  return signLocalToken({ user, permissions }, await loadOrCreateSigningKey(system.signingKeyDir));
}

/** A request to the local API; an answer openapi.json does not describe fails the test. */
export async function call(
  system: LocalSystem,
  method: string,
  path: string,
  token?: string,
  body?: string,
): Promise<{ status: number; envelope: Envelope }> {
  const response = await fetch(`${system.apiUrl}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    body,
  });
  const envelope = (await response.json()) as Envelope;
  assertDocumentedAnswer(method, path, response.status, envelope);
  return { status: response.status, envelope };
}

/** Polls the task until `done` holds or the deadline passes (then fails with the last state seen). */
export async function waitForTask(
  system: LocalSystem,
  token: string,
  taskId: number,
  done: (task: Envelope['data']) => boolean = (task) => task.status !== 'RUNNING',
  deadlineMs = 30_000,
): Promise<Envelope['data']> {
  const deadline = Date.now() + deadlineMs;
  let last: Envelope['data'];
  while (Date.now() < deadline) {
    const { envelope } = await call(system, 'GET', `/api/v2/tasks/instances/${taskId}`, token);
    last = envelope.data;
    if (last && done(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(
    `Task ${taskId} did not reach the expected state within ${deadlineMs} ms: ${JSON.stringify(last)}`,
  );
}

/** Polls until `check` returns true or the deadline passes. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
  deadlineMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`Timed out waiting for ${what}`);
}
