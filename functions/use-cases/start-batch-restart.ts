import { type DryRunAnswer, ESTIMATED_RESTART_SECONDS, toDryRunAnswer } from '#core/batch-dry-run';
import { batchExecutionInput, batchExecutionName } from '#core/batch-execution';
import { parseBatchRequest } from '#core/batch-request';
import { type BatchHostRecord, type BatchRecord, idsPerBatch, newBatch } from '#core/batch-task';
import { type PlanHost, planRollout, requireKnownHosts, resolveRollout } from '#core/rollout';
import type { TaskType } from '#core/task';
import type { BatchStore } from '#store/batch-store';
import { type HostRecord, type HostRegistry, hasValidHostParameters } from '#store/host-registry';
import type { TaskStore } from '#store/task-store';
import type { HostCommands, Workflow } from './ports.ts';
import { executionArnFor } from './start-restart-task.ts';

export interface BatchRestartRequest {
  /** The request's body as parsed JSON (an absent body as `{}`): parseBatchRequest reads it. */
  body: unknown;
  creator: string;
  type: TaskType;
}

export interface BatchRestartDependencies {
  tasks: TaskStore;
  batches: BatchStore;
  hosts: HostRegistry;
  workflow: Workflow;
  hostCommands: HostCommands;
  batchStateMachineArn: string;
}

/** A batch as started: RUNNING, every host PENDING, its execution started. */
export interface StartedBatch {
  dryRun: false;
  batch: BatchRecord;
  hosts: BatchHostRecord[];
}

/**
 * POST /compute/hosts/batchRestartAgents. A dry run answers the plan: which hosts exist, which are
 * busy (and with which task), how SSM sees each, the waves, an estimate; it writes nothing. Otherwise
 * every host must exist (HostsNotFound names those that do not); the batch and its hosts are written
 * and its execution started, named `batch-<batchId>`; if that start fails, what was written is deleted
 * again. A refused request writes nothing and starts nothing. A host busy now is not refused: at its
 * turn it is not started, and counts as a failure, as the plan shows.
 */
export async function startBatchRestart(
  request: BatchRestartRequest,
  deps: BatchRestartDependencies,
): Promise<DryRunAnswer | StartedBatch> {
  const parsed = parseBatchRequest(request.body);
  const registered = await deps.hosts.findMany(parsed.hostIds);
  const commandable = (hostId: number): HostRecord | undefined => {
    const host = registered.get(hostId);
    return host && hasValidHostParameters(host) ? host : undefined;
  };
  const settings = resolveRollout(parsed, parsed.hostIds.length);
  if (parsed.dryRun) {
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
  requireKnownHosts(parsed.hostIds.map((hostId) => ({ hostId, known: commandable(hostId) !== undefined })));

  const firstId = await deps.tasks.allocateIds(idsPerBatch(parsed.hostIds.length));
  const executionName = batchExecutionName(firstId, 0);
  const { batch, hosts } = newBatch({
    firstId,
    hostIds: parsed.hostIds,
    creator: request.creator,
    type: request.type,
    prohibitRollback: parsed.prohibitRollback,
    rollout: settings,
    executor: executionArnFor(deps.batchStateMachineArn, executionName),
    now: new Date(),
  });
  await deps.batches.createBatch(batch, hosts);
  try {
    await deps.workflow.startExecution(
      deps.batchStateMachineArn,
      executionName,
      batchExecutionInput(batch, 0, hosts),
    );
  } catch (error) {
    await deps.batches.deleteUnstartedBatch(batch, hosts);
    throw error;
  }
  return { dryRun: false, batch, hosts };
}
