import type { APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { SsmHostCommands } from '#aws/ssm-host-commands';
import { StepFunctionsWorkflow } from '#aws/step-functions-workflow';
import { toOcpBatchListing } from '#core/batch-task-view';
import { errorEnvelope, ocpPage, successEnvelope } from '#core/envelope';
import { RouteNotFound, SubtaskNotFound, TaskNotFound, TaskStateInvalid } from '#core/errors';
import { type Caller, callerFromClaims, requirePermission } from '#core/identity';
import { asSafeNumber, parseLongId } from '#core/ids';
import * as z from '#core/schema';
import { IDS_PER_TASK } from '#core/subtasks';
import { type TaskRecord, toOcpTask } from '#core/task';
import { parseJsonBody } from '#http/body';
import { parseHostListQuery } from '#http/host-list-query';
import { newRequestScope } from '#http/request-scope';
import { RestartBody } from '#http/restart-body';
import { ROUTE_PERMISSIONS } from '#http/route-permissions';
import { API_ROUTES, type RouteId, routeKey } from '#http/routes';
import { parseSubtaskLogQuery } from '#http/subtask-log-query';
import { parseTaskListQuery } from '#http/task-list-query';
import { BatchStore } from '#store/batch-store';
import { HostRegistry } from '#store/host-registry';
import { IdBlockAllocator } from '#store/id-block-allocator';
import { StaleRecord, TaskStore } from '#store/task-store';
import { cancelBatch, getBatchView, retryBatch } from '#use-cases/batch-actions';
import { getAgentStatus } from '#use-cases/get-agent-status';
import { getHost, listHosts } from '#use-cases/host-views';
import { readSubtaskLog } from '#use-cases/read-subtask-log';
import { startBatchRestart } from '#use-cases/start-batch-restart';
import { startRestartTask } from '#use-cases/start-restart-task';
import { cancel, retry, rollback, skip } from '#use-cases/task-actions';
import { loggedInvocation, logger } from './logger.ts';
import {
  batchStateMachineArn,
  commandOutputLogGroup,
  documentFor,
  hostTableName,
  permissionsClaim,
  stateMachineArn,
  taskIdBlockTasks,
  taskTableName,
} from './runtime-config.ts';

type ApiEvent = APIGatewayProxyEventV2WithJWTAuthorizer;

const tasks = new TaskStore(taskTableName());
/** This instance's block of task ids: most restarts then make no counter call of their own. */
const taskIds = new IdBlockAllocator(tasks, IDS_PER_TASK * taskIdBlockTasks());
const hosts = new HostRegistry(hostTableName());
const workflow = new StepFunctionsWorkflow();
const hostCommands = new SsmHostCommands();
const batches = new BatchStore(taskTableName());

/** One action per route: validate, call the domain, return the envelope's data. */
const actions: Record<RouteId, (event: ApiEvent, caller: Caller) => Promise<unknown>> = {
  async restartAgent(event, caller) {
    const hostId = parseLongId(event.pathParameters?.hostId, 'hostId');
    const body = parseJsonBody(event.body, event.isBase64Encoded, RestartBody);
    const { task } = await startRestartTask(
      { hostId, creator: caller.username, type: 'MANUAL', prohibitRollback: body.prohibitRollback ?? false },
      { tasks, taskIds, hosts, workflow, stateMachineArn: stateMachineArn() },
    );
    logger.info('Restart task started', { taskId: task.id, hostId: task.hostId, creator: task.creator });
    return toOcpTask(task);
  },

  async batchRestartAgents(event, caller) {
    const body = parseJsonBody(event.body, event.isBase64Encoded, z.unknown()) ?? {};
    const started = await startBatchRestart(
      { body, creator: caller.username, type: 'MANUAL' },
      { tasks, batches, hosts, workflow, hostCommands, batchStateMachineArn: batchStateMachineArn() },
    );
    if (started.dryRun) return started;
    logger.info('Batch restart started', { batchId: started.batch.id, hosts: started.hosts.length });
    return getBatchView(started.batch.id, { tasks, batches });
  },

  async getAgentStatus(event) {
    const hostId = parseLongId(event.pathParameters?.hostId, 'hostId');
    return getAgentStatus(hostId, { hosts, hostCommands, documentName: documentFor('agentStatus') });
  },

  async listHosts(event) {
    return listHosts(parseHostListQuery(event.queryStringParameters), { hosts, tasks });
  },

  async getHost(event) {
    return getHost(parseLongId(event.pathParameters?.hostId, 'hostId'), { hosts, tasks });
  },

  async getTask(event) {
    const id = parseLongId(event.pathParameters?.id, 'id');
    const taskId = asSafeNumber(id);
    const task = taskId === undefined ? undefined : await tasks.getTask(taskId);
    if (task) return toOcpTask(task);
    if (taskId === undefined) throw new TaskNotFound(id);
    return getBatchView(taskId, { tasks, batches });
  },

  async listTasks(event) {
    const { query, page } = parseTaskListQuery(event.queryStringParameters);
    const { tasks: found, totalElements } = await tasks.listTasks(query);
    return ocpPage(
      found.map((entry) => (entry.kind === 'task' ? toOcpTask(entry.task) : toOcpBatchListing(entry.batch))),
      totalElements,
      page,
      query.size,
    );
  },

  async getSubtaskLog(event) {
    const id = parseLongId(event.pathParameters?.id, 'id');
    const subtaskId = parseLongId(event.pathParameters?.subtaskId, 'subtaskId');
    const task = await subtaskOwner(id, subtaskId);
    const subtask = task.subtasks.find((candidate) => BigInt(candidate.id) === subtaskId);
    if (!subtask) throw new SubtaskNotFound(id, subtaskId);
    const view = await readSubtaskLog(
      task,
      subtask,
      parseSubtaskLogQuery(event.queryStringParameters).cursor,
      {
        tasks,
        hosts,
        outputLogGroup: commandOutputLogGroup,
      },
    );
    if (view.truncated)
      logger.warn('Subtask log truncated by SSM, full text unavailable', { taskId: task.id });
    return view;
  },

  async retryTask(event) {
    const batchId = await batchNamed(event);
    if (batchId === undefined) return actOnTask(event, (id) => retry(id, taskActionDependencies()));
    await retryBatch(batchId, batchActionDependencies());
    logger.info('Batch retried', { batchId });
    return getBatchView(batchId, { tasks, batches });
  },
  async cancelTask(event, caller) {
    const batchId = await batchNamed(event);
    const id = parseLongId(event.pathParameters?.id, 'id');
    if (batchId === undefined) {
      const task = await findTask(id);
      throw new TaskStateInvalid(
        event.routeKey,
        `single-host task ${id} (cancel its running subtask instead)`,
        task.status,
      );
    }
    await cancelBatch(batchId, caller.username, batchActionDependencies());
    logger.info('Batch cancelled', { batchId });
    return getBatchView(batchId, { tasks, batches });
  },
  rollbackTask: (event) => actOnTask(event, (id) => rollback(id, taskActionDependencies())),
  skipSubtask: (event) => actOnTask(event, (id, subtaskId) => skip(id, subtaskId!, taskActionDependencies())),
  cancelSubtask: (event) =>
    actOnTask(event, (id, subtaskId) => cancel(id, subtaskId!, taskActionDependencies())),
};

const taskActionDependencies = () => ({
  tasks,
  hosts,
  workflow,
  hostCommands,
  stateMachineArn: stateMachineArn(),
});

const batchActionDependencies = () => ({
  ...taskActionDependencies(),
  batches,
  batchStateMachineArn: batchStateMachineArn(),
});

/** The id of the route's batch, or undefined when the id names no batch. */
async function batchNamed(event: ApiEvent): Promise<number | undefined> {
  const batchId = asSafeNumber(parseLongId(event.pathParameters?.id, 'id'));
  if (batchId === undefined) return undefined;
  return (await batches.getBatch(batchId)) ? batchId : undefined;
}

/** Runs a task action and answers with the task as it now stands. */
async function actOnTask(
  event: ApiEvent,
  act: (taskId: number, subtaskId: number | undefined) => Promise<unknown>,
) {
  const id = parseLongId(event.pathParameters?.id, 'id');
  const rawSubtaskId = event.pathParameters?.subtaskId;
  const subtaskId = rawSubtaskId === undefined ? undefined : parseLongId(rawSubtaskId, 'subtaskId');
  const task = await findTask(id);
  const subtaskNumber = subtaskId === undefined ? undefined : asSafeNumber(subtaskId);
  if (subtaskId !== undefined && subtaskNumber === undefined) throw new SubtaskNotFound(id, subtaskId);
  try {
    await act(task.id, subtaskNumber);
  } catch (error) {
    if (error instanceof StaleRecord)
      throw new TaskStateInvalid(event.routeKey, `task ${task.id}`, 'changing');
    throw error;
  }
  logger.info('Task action taken', { taskId: task.id, route: event.routeKey });
  return toOcpTask(await findTask(id));
}

/**
 * The task holding the subtask a log route names: the task itself, or, for a batch, the restart task
 * of the host whose subtask it is (a batch's subtasks are its hosts' tasks' subtasks).
 */
async function subtaskOwner(id: bigint, subtaskId: bigint): Promise<TaskRecord> {
  const taskId = asSafeNumber(id);
  if (taskId === undefined) throw new TaskNotFound(id);
  const task = await tasks.getTask(taskId);
  if (task) return task;
  const stored = await batches.getBatch(taskId);
  if (!stored) throw new TaskNotFound(id);
  const hostTasks = await tasks.getTasks(stored.hosts.flatMap((host) => host.taskId ?? []));
  const owner = [...hostTasks.values()].find((hostTask) =>
    hostTask.subtasks.some((candidate) => BigInt(candidate.id) === subtaskId),
  );
  if (!owner) throw new SubtaskNotFound(id, subtaskId);
  return owner;
}

async function findTask(id: bigint) {
  const taskId = asSafeNumber(id);
  const task = taskId === undefined ? undefined : await tasks.getTask(taskId);
  if (!task) throw new TaskNotFound(id);
  return task;
}

const routeIds = new Map(
  (Object.keys(API_ROUTES) as RouteId[]).map((id) => [routeKey(API_ROUTES[id]), id] as const),
);

/** HTTP API (payload v2) entry: every response, success or error, is an OCP envelope. */
export const handler = loggedInvocation(
  async (event: ApiEvent): Promise<APIGatewayProxyStructuredResultV2> => {
    const scope = newRequestScope();
    logger.appendKeys({ traceId: scope.traceId, requestId: event.requestContext?.requestId });
    try {
      const routeId = routeIds.get(event.routeKey);
      if (!routeId) throw new RouteNotFound(event.requestContext?.http?.method ?? '?', event.rawPath ?? '?');
      const caller = callerFromClaims(event.requestContext?.authorizer?.jwt?.claims, permissionsClaim());
      logger.appendKeys({ caller: caller.username });
      requirePermission(caller, ...ROUTE_PERMISSIONS[routeId]);
      const envelope = successEnvelope(scope, await actions[routeId](event, caller));
      logger.info('Request answered', { route: routeId, status: envelope.status });
      return respond(envelope);
    } catch (error) {
      const envelope = errorEnvelope(scope, error);
      if (envelope.status >= 500) logger.error('Request failed', { error });
      else
        logger.info('Request refused', {
          status: envelope.status,
          code: envelope.error.code,
          reason: envelope.error.message,
        });
      return respond(envelope);
    }
  },
);

function respond(envelope: { status: number; traceId: string }): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode: envelope.status,
    headers: { 'content-type': 'application/json', 'x-ocp-trace-id': envelope.traceId },
    body: JSON.stringify(envelope),
  };
}
