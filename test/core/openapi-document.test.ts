import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { judgeAgentProcesses } from '#core/agent-status';
import { ESTIMATED_RESTART_SECONDS, toDryRunAnswer } from '#core/batch-dry-run';
import { parseBatchRequest } from '#core/batch-request';
import {
  cancelBatch,
  hostEnded,
  hostOutcomeOf,
  hostStarted,
  newBatch,
  reservedTaskId,
} from '#core/batch-task';
import { toOcpBatchListing, toOcpBatchTask } from '#core/batch-task-view';
import { errorEnvelope, type RequestScope, successEnvelope } from '#core/envelope';
import * as errors from '#core/errors';
import { parseLongId } from '#core/ids';
import { liveLogView } from '#core/live-log';
import { type PlanHost, planRollout, type RolloutSettings } from '#core/rollout';
import { showAttempt } from '#core/subtask-log';
import { newRestartTask, type TaskRecord, toOcpTask } from '#core/task';
import { rollbackTask } from '#core/task-lifecycle';
import { finishTask, recordOutcome, startAttempt } from '#core/task-progress';
import { ocpTimestamp } from '#core/time';
import { OCP_ERRORS, OPENAPI_FILE, openApiText } from '#http/openapi';
import { RestartBody } from '#http/restart-body';
import { API_ROUTES, type RouteId, routeKey, STATIC_ROUTES } from '#http/routes';
import { MAX_PAGE_SIZE, parseTaskListQuery } from '#http/task-list-query';
import type { AgentStatus } from '#use-cases/get-agent-status';
import document from '../../openapi.json' with { type: 'json' };
import { documentSchema, undocumentedAnswer } from '../support/openapi-validator.ts';

const T0 = new Date('2021-09-03T06:17:06.328Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);
const scope: RequestScope = {
  traceId: 'a1b2c3d4e5f60718',
  server: 'ocp-agent-restart',
  startedAt: T0.getTime(),
};
const ROLLOUT: RolloutSettings = {
  maxConcurrency: 2,
  maxErrors: 0,
  healthCheckSeconds: 0,
  asked: { maxConcurrency: '2', maxErrors: '0' },
};

const routeIds = Object.keys(API_ROUTES) as RouteId[];
const pathOf = (route: RouteId) => API_ROUTES[route].path.replace(/\{\w+\}/g, '7');
const paths = document.paths as Record<string, Record<string, { responses: Record<string, unknown> }>>;

/** The answer's problem by the route's 200 response in the document, or undefined. */
const successProblem = (route: RouteId, data: unknown) =>
  undocumentedAnswer(API_ROUTES[route].method, pathOf(route), 200, successEnvelope(scope, data));

function task(overrides: Partial<Parameters<typeof newRestartTask>[0]> = {}): TaskRecord {
  return newRestartTask({
    firstId: 12001,
    hostId: 2,
    creator: 'admin',
    type: 'MANUAL',
    prohibitRollback: false,
    executionArn: 'arn:aws:states:us-east-1:123456789012:execution:restart:task-12001',
    now: T0,
    ...overrides,
  });
}

/** Runs the task's subtasks in order, the one at `failAt` failing, and ends the task. */
function ranTask(record: TaskRecord, failAt?: number): TaskRecord {
  let current = record;
  for (let index = 0; index < current.subtasks.length; index++) {
    const start = startAttempt(current, index, `token-${index}`, undefined, at(index + 1));
    if (start.action !== 'begin') throw new Error(`subtask ${index} did not begin`);
    const failed = index === failAt;
    current = recordOutcome(start.task, {
      index,
      attempt: start.attempt,
      status: failed ? 'FAILED' : 'SUCCESSFUL',
      ...(failed ? { error: 'exit code 1: ocp_agentctl stop timed out' } : {}),
      endTime: ocpTimestamp(at(index + 2)),
    })!;
    if (failed) break;
  }
  const status = failAt === undefined ? 'SUCCESSFUL' : 'FAILED';
  return finishTask(current, { status, endTime: ocpTimestamp(at(10)) })!.task;
}

function batchViews() {
  const { batch, hosts } = newBatch({
    firstId: 30208,
    hostIds: [2, 5, 9],
    creator: 'admin',
    type: 'MANUAL',
    prohibitRollback: true,
    rollout: ROLLOUT,
    executor: 'arn:aws:states:us-east-1:123456789012:execution:batch:batch-30208',
    now: T0,
    reason: 'schedule nightly-restarts',
  });
  const started = hostStarted(batch, hosts, 0, reservedTaskId(batch, 0), at(1))!;
  const hostTask = ranTask(task({ firstId: started.taskId!, hostId: 2 }), 2);
  const ended = hostEnded(started, hostOutcomeOf(hostTask)!)!;
  const running = [ended, ...hosts.slice(1)];
  const cancelled = cancelBatch(batch, running, 'admin', at(20));
  return [
    toOcpBatchTask(batch, hosts, new Map()),
    toOcpBatchTask(batch, running, new Map([[hostTask.id, hostTask]])),
    toOcpBatchTask(cancelled.batch, cancelled.hosts, new Map([[hostTask.id, hostTask]])),
  ];
}

describe('openapi.json', () => {
  it('is what npm run generate:openapi writes (run it after changing a route or a schema)', () => {
    expect(readFileSync(OPENAPI_FILE, 'utf8')).toBe(openApiText());
  });

  it('has an operation for every route of routes.ts, the static ones (itself, the console) without authentication', () => {
    const documented = Object.entries(paths).flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(documented.sort()).toEqual(
      [
        ...routeIds.map((id) => routeKey(API_ROUTES[id])),
        ...Object.values(STATIC_ROUTES).map(routeKey),
      ].sort(),
    );
    for (const id of routeIds)
      expect(paths[API_ROUTES[id].path]?.[API_ROUTES[id].method.toLowerCase()]).toMatchObject({
        operationId: id,
      });
    for (const route of Object.values(STATIC_ROUTES))
      expect(paths[route.path]?.get).toMatchObject({ security: [] });
    expect(document.security).toEqual([{ bearerAuth: [] }]);
  });

  it('knows every OCP error of errors.ts by its name, with its HTTP status and code', () => {
    type AnyDomainError = new (...args: unknown[]) => errors.DomainError;
    const classes = (Object.values(errors) as unknown[]).filter(
      (value): value is AnyDomainError =>
        typeof value === 'function' && value.prototype instanceof errors.DomainError,
    );
    expect(classes.length).toBeGreaterThan(10);
    for (const ErrorClass of classes) {
      const error = new ErrorClass([7], 'field', 'RUNNING');
      expect(OCP_ERRORS[error.ocpCodeName as keyof typeof OCP_ERRORS], ErrorClass.name).toEqual({
        status: error.httpStatus,
        code: error.ocpCode,
      });
    }
  });

  it('describes the error envelope each route answers, and refuses a code the route does not answer', () => {
    expect(
      undocumentedAnswer('GET', pathOf('getTask'), 404, errorEnvelope(scope, new errors.TaskNotFound(7))),
    ).toBeUndefined();
    expect(
      undocumentedAnswer(
        'POST',
        pathOf('restartAgent'),
        409,
        errorEnvelope(scope, new errors.HostBusy(7, 12001)),
      ),
    ).toBeUndefined();
    expect(
      undocumentedAnswer(
        'GET',
        pathOf('getAgentStatus'),
        503,
        errorEnvelope(scope, new errors.HostUnreachable(7, 'offline')),
      ),
    ).toBeUndefined();
    for (const id of routeIds) {
      const { method } = API_ROUTES[id];
      expect(
        undocumentedAnswer(method, pathOf(id), 500, errorEnvelope(scope, new Error('boom'))),
        id,
      ).toBeUndefined();
      expect(
        undocumentedAnswer(method, pathOf(id), 401, errorEnvelope(scope, new errors.NotAuthenticated())),
        id,
      ).toBeUndefined();
      expect(
        undocumentedAnswer(
          method,
          pathOf(id),
          403,
          errorEnvelope(scope, new errors.PermissionDenied(['TASK_MANAGER'])),
        ),
        id,
      ).toBeUndefined();
      expect(
        undocumentedAnswer(
          method,
          pathOf(id),
          400,
          errorEnvelope(scope, new errors.InvalidArgument('bad', 'id')),
        ),
        id,
      ).toBeUndefined();
    }
    expect(undocumentedAnswer('GET', pathOf('getTask'), 401, { message: 'Unauthorized' })).toBeUndefined();
    expect(
      undocumentedAnswer('GET', pathOf('getTask'), 500, { message: 'Internal Server Error' }),
    ).toBeUndefined();
    expect(undocumentedAnswer('GET', pathOf('getTask'), 404, { message: 'Not Found' })).toBeDefined();
    expect(
      undocumentedAnswer('GET', pathOf('getTask'), 404, errorEnvelope(scope, new errors.HostNotFound(7))),
    ).toMatch(/body\/error\/code must be equal to one of the allowed values/);
    expect(undocumentedAnswer('GET', pathOf('listTasks'), 404, {})).toMatch(/documents no 404 answer/);
    expect(undocumentedAnswer('DELETE', pathOf('getTask'), 200, {})).toMatch(/no operation for DELETE/);
    expect(undocumentedAnswer('GET', '/compute/hosts', 200, {})).toMatch(
      /no operation for GET \/compute\/hosts$/,
    );
  });
});

describe("openapi.json's answers match the views core builds", () => {
  const running = task({ reason: 'agent heartbeat lost' });
  const succeeded = ranTask(task());
  const failed = ranTask(task({ prohibitRollback: true }), 2);
  const rolledBack = rollbackTask(ranTask(task(), 3), at(30));
  const tasks = [running, succeeded, failed, rolledBack].map(toOcpTask);

  it('a task, as every task route answers it', () => {
    for (const view of tasks) {
      for (const route of [
        'restartAgent',
        'getTask',
        'retryTask',
        'rollbackTask',
        'skipSubtask',
        'cancelSubtask',
      ] as const)
        expect(successProblem(route, view), route).toBeUndefined();
    }
    expect(successProblem('getTask', { ...tasks[0], extra: 1 })).toMatch(
      /must NOT have additional properties/,
    );
    expect(successProblem('cancelTask', tasks[0])).toBeDefined();
  });

  it('a batch, as a batch restart, a read, a retry and a cancel answer it', () => {
    for (const view of batchViews())
      for (const route of ['batchRestartAgents', 'getTask', 'retryTask', 'cancelTask'] as const)
        expect(successProblem(route, view), route).toBeUndefined();
  });

  it('a dry run', () => {
    const hosts: PlanHost[] = [
      { hostId: 1, known: true, pingStatus: 'Online' },
      { hostId: 2, known: true, pingStatus: 'ConnectionLost' },
      { hostId: 3, known: true, pingStatus: 'Online', busyTaskId: 12001 },
      { hostId: 4, known: false },
    ];
    const answer = toDryRunAnswer(hosts, planRollout(hosts, ROLLOUT, ESTIMATED_RESTART_SECONDS));
    expect(successProblem('batchRestartAgents', answer)).toBeUndefined();
  });

  it('a page of tasks and batches', () => {
    const batch = newBatch({
      firstId: 30208,
      hostIds: [2, 5],
      creator: 'admin',
      type: 'SCHEDULED',
      prohibitRollback: false,
      rollout: ROLLOUT,
      executor: 'arn:aws:states:us-east-1:123456789012:execution:batch:batch-30208',
      now: T0,
    }).batch;
    const page = {
      contents: [...tasks, toOcpBatchListing(batch)],
      page: { totalElements: 5, totalPages: 1, number: 1, size: 10 },
    };
    expect(successProblem('listTasks', page)).toBeUndefined();
  });

  it("an agent status, and a subtask's log", () => {
    const processes = [
      { name: 'ocp_agentd', pid: 4242, running: true },
      { name: 'ocp_monagent', pid: null, running: false },
    ];
    const status: AgentStatus = {
      hostId: 2,
      ...judgeAgentProcesses(processes),
      processes,
      checkedAt: ocpTimestamp(T0),
    };
    expect(successProblem('getAgentStatus', status)).toBeUndefined();
    const attempt = {
      attempt: 1,
      commandId: 'c0ffee',
      exitCode: 0,
      stdout: 'stopped',
      stderr: '',
      recordedAt: ocpTimestamp(T0),
    };
    const ended = liveLogView({
      taskId: 7,
      subtaskId: 7,
      recorded: [showAttempt(attempt, {})],
      running: false,
    });
    expect(successProblem('getSubtaskLog', ended)).toBeUndefined();
    const running = liveLogView({ taskId: 7, subtaskId: 8, recorded: [], running: true });
    expect(successProblem('getSubtaskLog', running)).toBeUndefined();
  });
});

describe("openapi.json's requests match the schemas that validate them", () => {
  const accepts = (name: string, value: unknown) => documentSchema(`/components/schemas/${name}`)(value);
  const parses = (parse: () => unknown) => {
    try {
      parse();
      return true;
    } catch {
      return false;
    }
  };

  it('the batch restart body', () => {
    const bodies: unknown[] = [
      { hostIds: [1, 2] },
      { hostids: [3] },
      {
        hostIds: [1],
        rollout: { maxConcurrency: '10%', maxErrors: 0, healthCheckSeconds: 600 },
        dryRun: true,
      },
      { hostIds: [1], rollout: { maxConcurrency: 1000, maxErrors: '0%' }, prohibitRollback: false },
      { hostIds: [Number.MAX_SAFE_INTEGER] },
      {},
      [],
      { hostIds: [] },
      { hostIds: [1, 1] },
      { hostIds: [0] },
      { hostIds: [1.5] },
      { hostIds: [2 ** 53] },
      { hostIds: '1' },
      { hostIds: Array.from({ length: 1001 }, (_, index) => index + 1) },
      { hostIds: [1], hostids: [2] },
      { hostIds: [1], extra: 1 },
      { hostIds: [1], rollout: { maxConcurrency: 0 } },
      { hostIds: [1], rollout: { maxConcurrency: '0%' } },
      { hostIds: [1], rollout: { maxConcurrency: '101%' } },
      { hostIds: [1], rollout: { maxConcurrency: '05%' } },
      { hostIds: [1], rollout: { maxConcurrency: 1001 } },
      { hostIds: [1], rollout: { maxErrors: -1 } },
      { hostIds: [1], rollout: { healthCheckSeconds: 601 } },
      { hostIds: [1], rollout: { healthCheckSeconds: 1.5 } },
      { hostIds: [1], rollout: { wait: 1 } },
      { hostIds: [1], dryRun: 'yes' },
    ];
    for (const body of bodies)
      expect(accepts('BatchRestartRequest', body), JSON.stringify(body).slice(0, 80)).toBe(
        parses(() => parseBatchRequest(body)),
      );
  });

  it('the restart body', () => {
    for (const body of [{}, { prohibitRollback: true }, { prohibitRollback: 'true' }, { force: true }, null])
      expect(accepts('RestartRequest', body), JSON.stringify(body)).toBe(RestartBody.safeParse(body).success);
  });

  it("the task listing's query parameters", () => {
    const listing = paths['/api/v2/tasks/instances']!.get as unknown as { parameters: { name: string }[] };
    const { parameters } = listing;
    const samples: Record<string, string>[] = [
      { size: String(MAX_PAGE_SIZE) },
      { size: String(MAX_PAGE_SIZE + 1) },
      { size: '0' },
      { page: '1', size: '1' },
      { page: '0' },
      { page: '01' },
      { hostId: '9223372036854775807' },
      { hostId: '01' },
      { status: 'FAILED' },
      { status: 'DONE' },
      { name: '' },
      { name: 'x'.repeat(128) },
      { name: 'x'.repeat(129) },
    ];
    for (const sample of samples) {
      const accepted = Object.entries(sample).every(([name, value]) => {
        const parameter = parameters.find((candidate) => candidate.name === name)!;
        return documentSchema(
          `/paths/~1api~1v2~1tasks~1instances/get/parameters/${parameters.indexOf(parameter)}/schema`,
        )(value);
      });
      expect(accepted, JSON.stringify(sample)).toBe(parses(() => parseTaskListQuery(sample)));
    }
  });

  it('the path ids (but for a 64-bit overflow, which the pattern cannot bound)', () => {
    const pointer = '/paths/~1api~1v2~1tasks~1instances~1{id}/get/parameters/0/schema';
    for (const id of ['1', '9223372036854775807', '0', '01', '-1', '1e3', '1.0', ' 1', '', '1'.repeat(20)])
      expect(documentSchema(pointer)(id), id).toBe(parses(() => parseLongId(id, 'id')));
  });
});
