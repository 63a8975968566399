import { z } from 'zod';
import { RESTART_SUBTASKS, RESTART_TASK_NAME } from '#core/subtasks';
import { API_ROUTES } from '#http/routes';

/** What the smoke test is pointed at. */
export interface SmokeTarget {
  /** The stack's ApiUrl, without a trailing slash. */
  api: string;
  /** An operator's token: HOST_MANAGER and TASK_VIEWER (or TASK_MANAGER). */
  token: string;
  /** A registered host, as a decimal string (OCP's ids are longs). */
  hostId: string;
  /** A valid token without HOST_MANAGER, to prove that permissions are enforced. */
  viewerToken?: string;
}

export interface CheckResult {
  name: string;
  outcome: 'passed' | 'failed' | 'skipped';
  detail: string;
  seconds: number;
}

/** Beyond the subtasks' own timeouts: the task's start, the status events and its end. */
export const TASK_DEADLINE_MARGIN_SECONDS = 60;

/** How long a restart may take at most: every subtask's timeout, plus the margin. */
export function taskDeadlineSeconds(): number {
  return (
    RESTART_SUBTASKS.reduce((sum, subtask) => sum + subtask.timeoutSeconds, 0) + TASK_DEADLINE_MARGIN_SECONDS
  );
}

const REQUEST_TIMEOUT_MS = 60_000;
const FIRST_POLL_MS = 500;
const MAX_POLL_MS = 3_000;

const Id = z.number().int();
const Timestamp = z.string().refine((text) => !Number.isNaN(Date.parse(text)), 'not a timestamp');

/** Field names and types of OCP's restart-agent response (its published sample); extra fields are allowed. */
export const OcpRestartEnvelope = z.object({
  data: z.object({
    context: z.object({
      listMap: z.record(z.string(), z.unknown()),
      parallel: z.boolean(),
      parallelIdx: Id,
      stringMap: z.object({ prohibit_rollback: z.enum(['true', 'false']), host_id: z.string() }),
    }),
    creator: z.string(),
    executor: z.string(),
    hostId: Id,
    id: Id,
    name: z.string(),
    operation: z.string(),
    startTime: Timestamp,
    status: z.string(),
    subtasks: z.array(
      z.object({
        className: z.string(),
        description: z.string(),
        downstreams: z.array(Id),
        id: Id,
        name: z.string(),
        nodeType: z.string(),
        operation: z.string(),
        parallelIdx: Id,
        prohibitRollback: z.boolean(),
        runTime: Id,
        seriesId: Id,
        status: z.string(),
        timeout: Id,
        upstreams: z.array(Id),
      }),
    ),
    taskDefinitionId: Id,
    type: z.string(),
  }),
  duration: z.number(),
  server: z.string(),
  status: Id,
  successful: z.boolean(),
  timestamp: Timestamp,
  traceId: z.string(),
});
export type OcpRestartEnvelope = z.infer<typeof OcpRestartEnvelope>;

const AgentStatus = z.object({
  data: z.object({
    status: z.string(),
    processes: z.array(
      z.object({ name: z.string(), pid: z.number().int().nullable(), running: z.boolean() }),
    ),
  }),
});
type AgentProcesses = z.infer<typeof AgentStatus>['data']['processes'];

const TaskEnvelope = z.object({
  data: z.object({
    id: Id,
    status: z.string(),
    subtasks: z.array(
      z.object({ id: Id, name: z.string(), status: z.string(), error: z.string().optional() }),
    ),
  }),
});
type TaskView = z.infer<typeof TaskEnvelope>['data'];

const LogEnvelope = z.object({ data: z.object({ log: z.string() }) });
const HostView = z.object({
  id: Id,
  instanceId: z.string(),
  agentHome: z.string(),
  busy: z.boolean(),
  runningTaskId: Id.nullable(),
});
const HostPageEnvelope = z.object({
  data: z.object({ contents: z.array(HostView), page: z.object({ totalElements: Id }) }),
});
const HostEnvelope = z.object({ data: HostView });
const ErrorEnvelope = z.object({
  successful: z.literal(false),
  error: z.object({ code: z.number(), message: z.string() }),
});

/**
 * Why a restart response is not what OCP answers for "restart host <hostId>", or undefined when it is:
 * OCP's field names and types, a RUNNING task of the host, and the five subtasks chained in order with
 * the names and timeouts this product defines.
 */
export function restartEnvelopeProblem(body: unknown, hostId: string): string | undefined {
  const parsed = OcpRestartEnvelope.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return `not OCP's envelope: ${issue.path.join('.') || 'body'}: ${issue.message}`;
  }
  const { data, successful, status } = parsed.data;
  if (!successful || status !== 200) return `successful=${successful}, status=${status}`;
  if (String(data.hostId) !== hostId) return `the task is for host ${data.hostId}, not ${hostId}`;
  if (data.name !== RESTART_TASK_NAME || data.status !== 'RUNNING' || data.operation !== 'EXECUTE')
    return `task "${data.name}" is ${data.status}/${data.operation}, not "${RESTART_TASK_NAME}" RUNNING/EXECUTE`;
  const byId = new Map(data.subtasks.map((subtask) => [subtask.id, subtask]));
  const chain: typeof data.subtasks = [];
  for (let next = data.subtasks.find((s) => s.upstreams.length === 0); next; ) {
    chain.push(next);
    if (chain.length > data.subtasks.length) return 'the subtasks form a loop';
    next = next.downstreams.length === 1 ? byId.get(next.downstreams[0]!) : undefined;
  }
  const found = chain.map((subtask) => `${subtask.name} (${subtask.timeout} s)`);
  const expected = RESTART_SUBTASKS.map((subtask) => `${subtask.name} (${subtask.timeoutSeconds} s)`);
  if (found.length !== data.subtasks.length || found.join(' → ') !== expected.join(' → '))
    return `subtasks ${found.join(' → ') || '(none chained)'}; expected ${expected.join(' → ')}`;
  return undefined;
}

/** The token with its expiry pushed back an hour: the signature no longer matches what it signs. */
export function tamperedToken(token: string): string {
  const [header, payload, signature] = token.split('.');
  const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8')) as { exp?: unknown };
  const exp = typeof claims.exp === 'number' ? claims.exp : Math.floor(Date.now() / 1000);
  const altered = Buffer.from(JSON.stringify({ ...claims, exp: exp + 3600 })).toString('base64url');
  return `${header}.${altered}.${signature}`;
}

/** A compact JWS: three base64url parts, the middle one a JSON object. */
export function isJwt(token: string): boolean {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((part) => /^[\w-]+$/.test(part))) return false;
  try {
    const claims: unknown = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
    return typeof claims === 'object' && claims !== null && !Array.isArray(claims);
  } catch {
    return false;
  }
}

class CheckFailed extends Error {}
/** No HTTP answer at all (refused connection, timeout): worth waiting out while a task runs. */
class NoAnswer extends CheckFailed {}
class CheckSkipped extends Error {}

interface Answer {
  status: number;
  body: unknown;
  text: string;
}

/**
 * Runs the checks against a deployment, one after the other, reporting each as it ends; a check whose
 * prerequisite failed is skipped. Restarts the host's agent once (more only if the API wrongly accepts
 * a request it must refuse).
 */
export async function runSmokeTest(
  target: SmokeTarget,
  report: (result: CheckResult) => void,
): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const check = async <T>(name: string, run: () => Promise<{ detail: string; value: T }>) => {
    const started = performance.now();
    let result: CheckResult;
    let value: T | undefined;
    try {
      const passed = await run();
      value = passed.value;
      result = { name, outcome: 'passed', detail: passed.detail, seconds: 0 };
    } catch (error) {
      const outcome = error instanceof CheckSkipped ? 'skipped' : 'failed';
      result = { name, outcome, detail: describeError(error), seconds: 0 };
    }
    result.seconds = (performance.now() - started) / 1000;
    results.push(result);
    report(result);
    return value;
  };
  const call = (method: string, path: string, token: string | undefined) =>
    request(target.api, method, path, token);
  const hostPath = (route: { path: string }) => route.path.replace('{hostId}', target.hostId);
  const restart = (token: string | undefined) => call('POST', hostPath(API_ROUTES.restartAgent), token);
  const agentStatus = async (): Promise<AgentProcesses> => {
    const answer = await call('GET', hostPath(API_ROUTES.getAgentStatus), target.token);
    expectStatus(answer, 200);
    const parsed = AgentStatus.safeParse(answer.body);
    if (!parsed.success) throw new CheckFailed(`unexpected agent status: ${answer.text.slice(0, 200)}`);
    return parsed.data.data.processes;
  };

  const before = await check('agent status before the restart', async () => {
    const processes = await agentStatus();
    return { detail: describeProcesses(processes), value: processes };
  });

  await check('the host is registered and the host list readable', async () => {
    // The whole list (a Scan of the host table) and the host itself: both grants the API needs.
    const listing = await call('GET', `${API_ROUTES.listHosts.path}?size=1`, target.token);
    expectStatus(listing, 200);
    const page = HostPageEnvelope.safeParse(listing.body);
    if (!page.success) throw new CheckFailed(`unexpected host list: ${listing.text.slice(0, 200)}`);
    const answer = await call('GET', hostPath(API_ROUTES.getHost), target.token);
    expectStatus(answer, 200);
    const host = HostEnvelope.safeParse(answer.body);
    if (!host.success || String(host.data.data.id) !== target.hostId)
      throw new CheckFailed(`unexpected host: ${answer.text.slice(0, 200)}`);
    const { instanceId, agentHome, runningTaskId } = host.data.data;
    const state = runningTaskId === null ? 'free' : `busy with task ${runningTaskId}`;
    return {
      detail: `${page.data.data.page.totalElements} hosts registered; host ${target.hostId} is ${instanceId}, agent in ${agentHome}, ${state}`,
      value: undefined,
    };
  });

  const started = await check("restart answers OCP's envelope", async () => {
    const answer = await restart(target.token);
    expectStatus(answer, 200);
    const problem = restartEnvelopeProblem(answer.body, target.hostId);
    if (problem) throw new CheckFailed(problem);
    const task = (answer.body as OcpRestartEnvelope).data;
    return { detail: `task ${task.id} RUNNING, ${task.subtasks.length} subtasks`, value: task.id };
  });

  const deadlineSeconds = taskDeadlineSeconds();
  const finished = await check('task reaches SUCCESSFUL within the subtasks’ timeouts', async () => {
    if (started === undefined) throw new CheckSkipped('no task was started');
    const task = await untilTaskEnds(started, deadlineSeconds);
    if (task.status !== 'SUCCESSFUL') {
      const failedAt = task.subtasks.find((subtask) => subtask.status === 'FAILED');
      throw new CheckFailed(
        `task ${task.id} ${task.status}${failedAt ? ` at "${failedAt.name}": ${failedAt.error ?? 'no reason given'}` : ''}`,
      );
    }
    return { detail: `task ${task.id} SUCCESSFUL (deadline ${deadlineSeconds} s)`, value: task };
  });

  await check('agent processes are new', async () => {
    if (!before || !finished) throw new CheckSkipped('needs the status before and a SUCCESSFUL restart');
    const after = await agentStatus();
    const problems = after.flatMap((process) => {
      const previous = before.find((candidate) => candidate.name === process.name)?.pid ?? null;
      if (!process.running || process.pid === null) return [`${process.name} is not running`];
      if (process.pid === previous) return [`${process.name} still has pid ${process.pid}`];
      return [];
    });
    if (after.length === 0) problems.push('no processes reported');
    if (problems.length > 0) throw new CheckFailed(problems.join('; '));
    const changes = after.map((process) => {
      const previous = before.find((candidate) => candidate.name === process.name)?.pid ?? '-';
      return `${process.name} ${previous}→${process.pid}`;
    });
    return { detail: changes.join(', '), value: undefined };
  });

  await check('every subtask log is readable', async () => {
    if (!finished) throw new CheckSkipped('needs a SUCCESSFUL restart');
    let characters = 0;
    for (const subtask of finished.subtasks) {
      const path = API_ROUTES.getSubtaskLog.path
        .replace('{id}', String(finished.id))
        .replace('{subtaskId}', String(subtask.id));
      const answer = await call('GET', path, target.token);
      expectStatus(answer, 200);
      const parsed = LogEnvelope.safeParse(answer.body);
      if (!parsed.success || parsed.data.data.log.trim() === '')
        throw new CheckFailed(`the log of "${subtask.name}" is empty or unreadable`);
      characters += parsed.data.data.log.length;
    }
    return { detail: `${finished.subtasks.length} logs, ${characters} characters in all`, value: undefined };
  });

  const refused = (name: string, token: () => string | undefined, status: number) =>
    check(name, async () => {
      const answer = await restart(token());
      expectStatus(answer, status);
      const code = ErrorEnvelope.safeParse(answer.body).data?.error.code;
      return {
        detail: `answered ${status}${code === undefined ? '' : ` (OCP error ${code})`}`,
        value: undefined,
      };
    });
  await refused('a restart without a token is refused', () => undefined, 401);
  await refused('a restart with a tampered token is refused', () => tamperedToken(target.token), 401);
  await refused(
    'a restart without HOST_MANAGER is refused',
    () => {
      if (!target.viewerToken) throw new CheckSkipped('no --viewer-token given');
      return target.viewerToken;
    },
    403,
  );
  return results;

  async function untilTaskEnds(taskId: number, seconds: number): Promise<TaskView> {
    const deadline = Date.now() + seconds * 1000;
    const path = API_ROUTES.getTask.path.replace('{id}', String(taskId));
    let pause = FIRST_POLL_MS;
    let last = 'no answer yet';
    for (;;) {
      try {
        const answer = await call('GET', path, target.token);
        // A refusal will not change by waiting; a server error or a lost connection may.
        if (answer.status >= 400 && answer.status < 500) expectStatus(answer, 200);
        const parsed = TaskEnvelope.safeParse(answer.body);
        if (answer.status === 200 && parsed.success) {
          if (parsed.data.data.status !== 'RUNNING') return parsed.data.data;
          const running = parsed.data.data.subtasks.find((subtask) => subtask.status === 'RUNNING');
          last = `RUNNING${running ? ` at "${running.name}"` : ''}`;
        } else {
          last = `${answer.status} ${answer.text.slice(0, 200)}`;
        }
      } catch (error) {
        if (!(error instanceof NoAnswer)) throw error;
        last = describeError(error);
      }
      if (Date.now() + pause > deadline)
        throw new CheckFailed(`task ${taskId} not ended after ${seconds} s; last seen: ${last}`);
      await new Promise((resolve) => setTimeout(resolve, pause));
      pause = Math.min(pause * 1.5, MAX_POLL_MS);
    }
  }
}

async function request(
  api: string,
  method: string,
  path: string,
  token: string | undefined,
): Promise<Answer> {
  let response: Response;
  try {
    response = await fetch(`${api}${path}`, {
      method,
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (error) {
    const reason = error instanceof Error && error.cause instanceof Error ? error.cause.message : error;
    throw new NoAnswer(`${method} ${path}: no answer from ${api} (${describeError(reason)})`);
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: response.status, body, text };
}

function expectStatus(answer: Answer, status: number): void {
  if (answer.status === status) return;
  const error = errorOf(answer);
  throw new CheckFailed(
    `answered ${answer.status}, expected ${status}: ${error ?? answer.text.slice(0, 200)}`,
  );
}

/** "code: message" of an OCP error envelope, if the answer is one. */
function errorOf(answer: Answer): string | undefined {
  const parsed = ErrorEnvelope.safeParse(answer.body);
  return parsed.success ? `${parsed.data.error.code}: ${parsed.data.error.message}` : undefined;
}

function describeProcesses(processes: AgentProcesses): string {
  const running = processes.filter((process) => process.running).length;
  return `${running} of ${processes.length} processes running (${processes
    .map((process) => `${process.name} ${process.pid ?? '-'}`)
    .join(', ')})`;
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
