import { type DryRunAnswer, ESTIMATED_RESTART_SECONDS, toDryRunAnswer } from '#core/batch-dry-run';
import { batchExecutionInput, batchExecutionName } from '#core/batch-execution';
import { type BatchRequest, parseBatchRequest } from '#core/batch-request';
import { type BatchHostRecord, type BatchRecord, idsPerBatch, newBatch } from '#core/batch-task';
import { type PlanHost, planRollout, requireKnownHosts, resolveRollout } from '#core/rollout';
import type { TaskType } from '#core/task';
import type { BatchStore } from '#store/batch-store';
import { type HostRecord, type HostRegistry, hasValidHostParameters } from '#store/host-registry';
import { DuplicateRequest, type TaskStore } from '#store/task-store';
import type { HostCommands, Workflow } from './ports.ts';
import { executionArnFor } from './start-restart-task.ts';

export interface BatchRestartRequest {
  /** The request's body as parsed JSON (an absent body as `{}`): parseBatchRequest reads it. */
  body: unknown;
  creator: string;
  type: TaskType;
}

export interface BatchRestartDependencies extends BatchStartDependencies {
  /** Asked how SSM sees the hosts, for a dry run's plan. */
  hostCommands: HostCommands;
}

/** What starting a batch needs (a dry run needs hostCommands besides). */
export interface BatchStartDependencies {
  tasks: TaskStore;
  batches: BatchStore;
  hosts: HostRegistry;
  workflow: Workflow;
  batchStateMachineArn: string;
}

/** A batch as started: RUNNING, every host PENDING, its execution started. */
export interface StartedBatch {
  dryRun: false;
  batch: BatchRecord;
  hosts: BatchHostRecord[];
}

/** A batch to start, its request read (parseBatchRequest) and not a dry run. */
export interface BatchToStart {
  request: BatchRequest & { dryRun: false };
  creator: string;
  type: TaskType;
  /** Why the batch is asked for; kept on the batch. */
  reason?: string;
  /**
   * Makes a repeated request (an event or a schedule run delivered twice) answer with the batch it
   * started, instead of starting another.
   */
  idempotencyKey?: string;
}

/**
 * POST /compute/hosts/batchRestartAgents. A dry run answers the plan: which hosts exist, which are
 * busy (and with which task), how SSM sees each, the waves, an estimate; it writes nothing. Otherwise
 * the batch is started as startBatch starts it. A refused request writes nothing and starts nothing.
 */
export async function startBatchRestart(
  request: BatchRestartRequest,
  deps: BatchRestartDependencies,
): Promise<DryRunAnswer | StartedBatch> {
  const parsed = parseBatchRequest(request.body);
  if (parsed.dryRun) return planBatch(parsed, deps);
  const { batch, hosts } = await startBatch(
    { request: { ...parsed, dryRun: false }, creator: request.creator, type: request.type },
    deps,
  );
  return { dryRun: false, batch, hosts };
}

async function planBatch(parsed: BatchRequest, deps: BatchRestartDependencies): Promise<DryRunAnswer> {
  const registered = await deps.hosts.findMany(parsed.hostIds);
  const commandable = (hostId: number): HostRecord | undefined => {
    const host = registered.get(hostId);
    return host && hasValidHostParameters(host) ? host : undefined;
  };
  const settings = resolveRollout(parsed, parsed.hostIds.length);
  const known = parsed.hostIds.flatMap((hostId) => commandable(hostId) ?? []);
  const [holders, pings] = await Promise.all([
    deps.tasks.lockHolders(known.map((host) => host.hostId)),
    deps.hostCommands.instancePings(known.map((host) => host.instanceId)),
  ]);
  const planHosts = parsed.hostIds.map((hostId): PlanHost => {
    const host = commandable(hostId);
    if (!host) return { hostId, known: false };
    const holder = holders.get(hostId);
    const ping = pings.get(host.instanceId);
    return {
      hostId,
      known: true,
      ...(holder === undefined ? {} : { busyTaskId: holder }),
      ...(ping === undefined ? {} : { pingStatus: ping }),
    };
  });
  return toDryRunAnswer(planHosts, planRollout(planHosts, settings, ESTIMATED_RESTART_SECONDS));
}

/**
 * Starts a batch: every host must exist (HostsNotFound names those that do not); the batch and its
 * hosts are written and its execution started, named `batch-<batchId>`; if that start fails, what was
 * written is deleted again. A host busy now is not refused: at its turn it is not started, and counts
 * as a failure, as the plan shows. With an idempotency key an earlier request's batch is answered
 * (`duplicate`), and nothing is started.
 */
export async function startBatch(
  toStart: BatchToStart,
  deps: BatchStartDependencies,
): Promise<StartedBatch & { duplicate: boolean }> {
  const { request, idempotencyKey } = toStart;
  // The key is checked again, atomically, when the batch is written; this early look saves ids.
  const [registered, earlier] = await Promise.all([
    deps.hosts.findMany(request.hostIds),
    idempotencyKey === undefined ? undefined : deps.batches.batchForRequest(idempotencyKey),
  ]);
  if (earlier) return { dryRun: false, ...earlier, duplicate: true };
  requireKnownHosts(
    request.hostIds.map((hostId) => {
      const host = registered.get(hostId);
      return { hostId, known: host !== undefined && hasValidHostParameters(host) };
    }),
  );

  const firstId = await deps.tasks.allocateIds(idsPerBatch(request.hostIds.length));
  const executionName = batchExecutionName(firstId, 0);
  const { batch, hosts } = newBatch({
    firstId,
    hostIds: request.hostIds,
    creator: toStart.creator,
    type: toStart.type,
    prohibitRollback: request.prohibitRollback,
    rollout: resolveRollout(request, request.hostIds.length),
    executor: executionArnFor(deps.batchStateMachineArn, executionName),
    now: new Date(),
    ...(toStart.reason ? { reason: toStart.reason } : {}),
  });
  try {
    await deps.batches.createBatch(batch, hosts, idempotencyKey);
  } catch (error) {
    if (!(error instanceof DuplicateRequest)) throw error;
    const stored = await deps.batches.getBatch(error.taskId);
    if (!stored) throw new Error(`Batch ${error.taskId} of a repeated request is missing`);
    return { dryRun: false, ...stored, duplicate: true };
  }
  try {
    await deps.workflow.startExecution(
      deps.batchStateMachineArn,
      executionName,
      batchExecutionInput(batch, 0, hosts),
    );
  } catch (error) {
    await deps.batches.deleteUnstartedBatch(batch, hosts, idempotencyKey);
    throw error;
  }
  return { dryRun: false, batch, hosts, duplicate: false };
}
