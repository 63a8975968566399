import { agentHealthProblem, restartedPids } from '#core/agent-health';
import { type BatchExecutionHost, batchRoundOf } from '#core/batch-execution';
import {
  type BatchHostRecord,
  type BatchHostStatus,
  type BatchRecord,
  batchOutcome,
  type HostOutcome,
  hostEnded,
  hostNotStarted,
  hostOutcomeOf,
  hostStarted,
  hostsNeverReached,
  hostsStoppedByThreshold,
  ROLLOUT_ENDED_REASON,
  type RolloutExecutionEnd,
  reservedTaskId,
  rolloutEndedReason,
} from '#core/batch-task';
import { AgentStatusUnavailable, HostBusy, HostNotFound, HostUnreachable } from '#core/errors';
import { sweepVerdict } from '#core/execution-sweep';
import { IDS_PER_TASK, RESTART_SUBTASKS } from '#core/subtasks';
import type { TaskRecord } from '#core/task';
import { ocpTimestamp } from '#core/time';
import type { BatchStore, StoredBatch } from '#store/batch-store';
import { type HostRecord, type HostRegistry, hasValidHostParameters } from '#store/host-registry';
import { StaleRecord } from '#store/task-store';
import type { WorkflowTaskStore } from '#store/workflow-task-store';
import { logger } from '../logger.ts';
import { endTask } from './end-task.ts';
import { getAgentStatus } from './get-agent-status.ts';
import type { HostCommands, Workflow } from './ports.ts';
import { createRestartTaskOf, type RestartExecutionInput, restartExecutionOf } from './start-restart-task.ts';

/**
 * The steps of a batch's rollout, one Lambda each (statemachine/batch-restart-agents.asl.json): admit a
 * host, record how its restart went, finish the batch. Each reads the batch as stored and decides with
 * the core (batch-task.ts); each is safe to run again after a lost answer, and a call from an earlier
 * round than the batch's (a retry has started since) changes nothing.
 */

export interface RolloutDependencies {
  tasks: WorkflowTaskStore;
  batches: BatchStore;
  hosts: HostRegistry;
  workflow: Workflow;
  hostCommands: HostCommands;
  /** The restart state machine, whose executions the batch's hosts run as children. */
  stateMachineArn: string;
  /** Where SSM writes the commands' full output: given, a restart task is ended as the reconciler ends it. */
  outputLogGroup?: string;
}

/** What recording a host's outcome needs beside: the health check's status command. */
export interface OutcomeDependencies extends RolloutDependencies {
  /** The SSM document that reports the agent's processes. */
  agentStatusDocument: string;
  /** Seconds the health check waits for the status command (getAgentStatus's default when absent). */
  statusWaitSeconds?: number;
}

/** Reads and conditional writes tried before concurrent changes are reported as StaleRecord. */
const CHANGE_ATTEMPTS = 5;
/** Reads and writes of hosts sent at once when a batch is finished: 1,000 hosts in 40 rounds. */
const WRITES_AT_ONCE = 25;

export interface AdmitHostEvent {
  batchId: number;
  round: number;
  host: BatchExecutionHost;
}

/**
 * The answer of "Admit host": all four fields always (the state's ResultSelector reads each path, and
 * a missing one is a States.Runtime error).
 */
export type Admission =
  | { admitted: true; taskId: number; executionName: string; input: RestartExecutionInput }
  | { admitted: false; taskId: null; executionName: null; input: null };

const NOT_ADMITTED: Admission = { admitted: false, taskId: null, executionName: null, input: null };

/** The restart's outcome did not settle: its task still runs although its execution's step ended. */
export class HostRestartStillRunning extends Error {
  override readonly name = 'HostRestartStillRunning';
  constructor(readonly taskId: number) {
    super(`The restart task ${taskId} is still RUNNING`);
  }
}

/**
 * Admits a host of the batch, or records why it does not start. A host starts when the batch may
 * start one more (hostStarted: running, not cancelled, the threshold not crossed, room under
 * maxConcurrency): its restart task is created as a single restart's is (taking the host's lock),
 * with the ids the batch reserved for it in round 0 and fresh ones in a retry's round, and the answer
 * names the execution to start for it. A host another operation holds is NOT_STARTED naming that task
 * (a failure towards maxErrors); once the failures exceed maxErrors, NOT_STARTED with the threshold's
 * reason. The host is recorded RUNNING (with its task id) before its task is written, so a repeated
 * call finds it and answers the same task, creating it if the first call stopped in between.
 */
export async function admitHost(event: AdmitHostEvent, deps: RolloutDependencies): Promise<Admission> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await admitOnce(event, deps);
    } catch (error) {
      if (!(error instanceof StaleRecord) || attempt >= CHANGE_ATTEMPTS) throw error;
    }
  }
}

async function admitOnce(event: AdmitHostEvent, deps: RolloutDependencies): Promise<Admission> {
  const { batch, hosts } = await readBatch(deps.batches, event.batchId);
  const host = hostOf(hosts, event.host);
  if (event.round !== batchRoundOf(batch)) {
    logger.warn('Not admitting a host for an earlier round of the batch', { round: event.round });
    return NOT_ADMITTED;
  }
  if (host.status === 'RUNNING' && host.taskId !== undefined) {
    const registered = await commandableHost(deps.hosts, host.hostId);
    if (!registered) throw new HostNotFound(host.hostId);
    const task = await deps.tasks.getTask(host.taskId);
    if (task) return admitted(task, registered);
    // The first call recorded the host RUNNING and stopped before it wrote the task; a batch being
    // cancelled since writes none (finishBatch then records the host failed, without a task).
    if (batch.status !== 'RUNNING' || batch.operation === 'CANCEL') return NOT_ADMITTED;
    const { taskId, startTime: _started, ...unstarted } = host;
    const created = await createHostTask(
      batch,
      hosts,
      { ...unstarted, status: 'PENDING' },
      host,
      taskId,
      registered,
      deps,
    );
    return created ? admitted(created, registered) : NOT_ADMITTED;
  }
  if (host.status !== 'PENDING') return NOT_ADMITTED;
  const now = new Date();
  const threshold = hostNotStarted(batch, hosts, host.index, 'errorThreshold');
  if (threshold) {
    await deps.batches.saveHost(host, threshold);
    return NOT_ADMITTED;
  }
  if (!hostStarted(batch, hosts, host.index, 0, now)) {
    logger.warn('The batch may not start this host now', {
      hostIndex: host.index,
      batchStatus: batch.status,
      operation: batch.operation,
    });
    return NOT_ADMITTED;
  }
  const [registered, holder] = await Promise.all([
    commandableHost(deps.hosts, host.hostId),
    deps.tasks.lockHolder(host.hostId),
  ]);
  if (holder !== undefined) {
    await deps.batches.saveHost(host, hostNotStarted(batch, hosts, host.index, { busyWithTaskId: holder })!);
    return NOT_ADMITTED;
  }
  const firstId =
    event.round === 0 ? reservedTaskId(batch, host.index) : await deps.tasks.allocateIds(IDS_PER_TASK);
  const started = hostStarted(batch, hosts, host.index, firstId, now)!;
  if (!registered) {
    // Deregistered since the batch started: the host fails, as a restart of an unknown host would.
    await deps.batches.saveHost(
      host,
      hostEnded(started, hostFailure(firstId, `Host ${host.hostId} does not exist.`))!,
    );
    return NOT_ADMITTED;
  }
  const running = await deps.batches.saveHost(host, started);
  const created = await createHostTask(batch, hosts, host, running, firstId, registered, deps);
  return created ? admitted(created, registered) : NOT_ADMITTED;
}

/**
 * Creates the restart task of a host recorded RUNNING (`running`) with `taskId`; undefined when another
 * operation took the host meanwhile: the host is then NOT_STARTED naming it, decided on the host as
 * it was before it started (`pending`).
 */
async function createHostTask(
  batch: BatchRecord,
  hosts: readonly BatchHostRecord[],
  pending: BatchHostRecord,
  running: BatchHostRecord,
  taskId: number,
  registered: HostRecord,
  deps: RolloutDependencies,
): Promise<TaskRecord | undefined> {
  try {
    const { task } = await createRestartTaskOf(
      registered,
      {
        firstId: taskId,
        creator: batch.creator,
        type: batch.type,
        prohibitRollback: batch.prohibitRollback,
        reason: `Part of batch task ${batch.id}.`,
      },
      deps,
    );
    return task;
  } catch (error) {
    if (!(error instanceof HostBusy)) throw error;
    const busy = hostNotStarted(batch, written(hosts, [pending]), pending.index, {
      busyWithTaskId: error.runningTaskId,
    });
    if (busy) await deps.batches.saveHost(running, busy);
    return undefined;
  }
}

function admitted(task: TaskRecord, host: HostRecord): Admission {
  const { executionName, input } = restartExecutionOf(task, host);
  return { admitted: true, taskId: task.id, executionName, input };
}

export interface RecordHostOutcomeEvent {
  batchId: number;
  round: number;
  host: BatchExecutionHost;
  /** The host's restart task, as its admission answered it. */
  taskId: number;
  healthCheckSeconds: number;
}

/**
 * Records how a host's restart went, from its restart task (hostOutcomeOf). A task still RUNNING
 * although its execution ended (the reconciler's event not handled yet) is ended first as the
 * reconciler ends it; one whose execution still runs throws HostRestartStillRunning, for the state to
 * try again. After a successful restart with a health check, the agent must still run with the
 * processes the restart started, else the host FAILED saying which. A host recorded already is left.
 */
export async function recordHostOutcome(
  event: RecordHostOutcomeEvent,
  deps: OutcomeDependencies,
): Promise<{ status: BatchHostStatus }> {
  const { batch, hosts } = await readBatch(deps.batches, event.batchId);
  let host = hostOf(hosts, event.host);
  if (event.round !== batchRoundOf(batch) || host.status !== 'RUNNING' || host.taskId !== event.taskId)
    return { status: host.status };
  const outcome = await settledOutcome(event.taskId, deps, { throwWhileRunning: true });
  const checked =
    outcome.status === 'SUCCESSFUL' && event.healthCheckSeconds > 0
      ? await healthChecked(outcome, host.hostId, event.healthCheckSeconds, deps)
      : outcome;
  for (let attempt = 1; ; attempt++) {
    const ended = hostEnded(host, checked);
    if (!ended) return { status: host.status };
    try {
      return { status: (await deps.batches.saveHost(host, ended)).status };
    } catch (error) {
      if (!(error instanceof StaleRecord) || attempt >= CHANGE_ATTEMPTS) throw error;
    }
    host = hostOf((await readBatch(deps.batches, event.batchId)).hosts, event.host);
  }
}

/** How the restart task ended, ending it from its execution first if that ended unrecorded. */
async function settledOutcome(
  taskId: number,
  deps: RolloutDependencies,
  options: { throwWhileRunning: boolean },
): Promise<HostOutcome> {
  const task = await deps.tasks.getTask(taskId);
  if (!task) return hostFailure(taskId, `Its restart task ${taskId} does not exist.`);
  const outcome = hostOutcomeOf(task) ?? hostOutcomeOf(await endedFromExecution(task, deps));
  if (outcome) return outcome;
  if (options.throwWhileRunning) throw new HostRestartStillRunning(taskId);
  return hostFailure(
    taskId,
    `The rollout ended while its restart task ${taskId} was still running: that task tells how it ends.`,
  );
}

/** The task ended as its execution ended, as the reconciler ends it; as it is while its execution runs. */
async function endedFromExecution(task: TaskRecord, deps: RolloutDependencies): Promise<TaskRecord> {
  const described = await deps.workflow.describe(task.executor);
  // Every hand-over is settled: the host's child execution ran (or, the rollout over, never will).
  const verdict = sweepVerdict(task, described, new Date());
  if (verdict.action !== 'end') return task;
  const instanceId = instanceIdOf(described?.input);
  return endTask(
    deps.tasks,
    task.id,
    { ...verdict.outcome, ...(instanceId ? { instanceId } : {}) },
    {
      workflow: deps.workflow,
      hostCommands: deps.hostCommands,
      ...(deps.outputLogGroup ? { outputLogGroup: deps.outputLogGroup } : {}),
    },
  );
}

const FINISH_SUBTASK_INDEX = RESTART_SUBTASKS.findIndex((subtask) => subtask.key === 'finish');

/**
 * The outcome after the health check: the agent as it runs now against the pids that the Finish
 * subtask reported when the restart ended. An agent whose status cannot be read fails the check.
 */
async function healthChecked(
  outcome: HostOutcome,
  hostId: number,
  seconds: number,
  deps: OutcomeDependencies,
): Promise<HostOutcome> {
  const task = await deps.tasks.getTask(outcome.taskId);
  const finish = task?.subtasks[FINISH_SUBTASK_INDEX];
  const logs = finish ? await deps.tasks.subtaskLogs(outcome.taskId, finish.id) : [];
  const finishLog = logs.find((log) => log.attempt === finish?.runTime) ?? logs.at(-1);
  let problem: string | undefined;
  try {
    const status = await getAgentStatus(BigInt(hostId), {
      hosts: deps.hosts,
      hostCommands: deps.hostCommands,
      documentName: deps.agentStatusDocument,
      ...(deps.statusWaitSeconds === undefined ? {} : { waitSeconds: deps.statusWaitSeconds }),
    });
    problem = agentHealthProblem(restartedPids(finishLog?.stdout ?? ''), status.processes, seconds);
  } catch (error) {
    if (
      !(
        error instanceof HostUnreachable ||
        error instanceof AgentStatusUnavailable ||
        error instanceof HostNotFound
      )
    )
      throw error;
    problem = `Health check failed ${seconds} s after the restart: ${error.message}`;
  }
  return problem ? hostFailure(outcome.taskId, problem) : outcome;
}

export interface FinishBatchEvent {
  batchId: number;
  round: number;
  /**
   * Set when the round's execution ended other than by its last state (stopped, failed, timed out):
   * the batch is ended as that state would have ended it, and its hosts never started say why.
   */
  executionEnd?: RolloutExecutionEnd;
}

/**
 * Ends the batch once its round's rollout has ended: a host whose outcome was not recorded gets it
 * from its task (or, its task still running, a failure saying so); a host never started gets its
 * reason (the threshold's, ROLLOUT_ENDED_REASON, or how the execution ended); then the batch is
 * SUCCESSFUL if every host succeeded, else FAILED. Ending an ended batch, or a call of an earlier
 * round, changes nothing. The reconciler calls it too, when a round's execution ended unfinished.
 */
export async function finishBatch(
  event: FinishBatchEvent,
  deps: RolloutDependencies,
): Promise<{ status: string }> {
  for (let attempt = 1; ; attempt++) {
    const { batch, hosts } = await readBatch(deps.batches, event.batchId);
    if (event.round !== batchRoundOf(batch) || batch.status !== 'RUNNING') return { status: batch.status };
    try {
      const ended: (BatchHostRecord | undefined)[] = [];
      await inGroups(
        hosts.filter((host) => host.status === 'RUNNING' && host.taskId !== undefined),
        WRITES_AT_ONCE,
        async (host) => {
          ended.push(hostEnded(host, await settledOutcome(host.taskId!, deps, { throwWhileRunning: false })));
        },
      );
      const afterEnded = written(hosts, ended);
      const afterStopped = written(afterEnded, hostsStoppedByThreshold(batch, afterEnded));
      const final = written(
        afterStopped,
        hostsNeverReached(
          batch,
          afterStopped,
          event.executionEnd ? rolloutEndedReason(event.executionEnd) : ROLLOUT_ENDED_REASON,
        ),
      );
      const changed = final.filter((host, position) => host !== hosts[position]);
      await inGroups(changed, WRITES_AT_ONCE, (host) =>
        deps.batches.saveHost(hosts.find((read) => read.index === host.index)!, host),
      );
      const outcome = batchOutcome(batch, final, new Date());
      if (!outcome) throw new Error(`Batch ${batch.id} has hosts that did not end`);
      return { status: (await deps.batches.saveBatch(batch, outcome)).status };
    } catch (error) {
      if (!(error instanceof StaleRecord) || attempt >= CHANGE_ATTEMPTS) throw error;
    }
  }
}

async function readBatch(batches: BatchStore, batchId: number): Promise<StoredBatch> {
  const stored = await batches.getBatch(batchId);
  if (!stored) throw new StaleRecord(`Batch ${batchId} does not exist`);
  return stored;
}

function hostOf(hosts: readonly BatchHostRecord[], item: BatchExecutionHost): BatchHostRecord {
  const host = hosts.find((candidate) => candidate.index === item.index);
  if (host?.hostId !== item.hostId)
    throw new Error(`The batch has no host ${item.hostId} at index ${item.index}`);
  return host;
}

async function commandableHost(registry: HostRegistry, hostId: number): Promise<HostRecord | undefined> {
  const host = await registry.find(BigInt(hostId));
  return host && hasValidHostParameters(host) ? host : undefined;
}

function hostFailure(taskId: number, error: string): HostOutcome {
  return { taskId, endTime: ocpTimestamp(new Date()), status: 'FAILED', error };
}

/** The hosts with `changed` written over them (undefined: no change). */
function written(
  hosts: readonly BatchHostRecord[],
  changed: readonly (BatchHostRecord | undefined)[],
): BatchHostRecord[] {
  const byIndex = new Map(changed.flatMap((host) => (host ? [[host.index, host] as const] : [])));
  return hosts.map((host) => byIndex.get(host.index) ?? host);
}

function instanceIdOf(input: string | undefined): string | undefined {
  try {
    const parsed: unknown = JSON.parse(input ?? '{}');
    return parsed &&
      typeof parsed === 'object' &&
      'instanceId' in parsed &&
      typeof parsed.instanceId === 'string'
      ? parsed.instanceId
      : undefined;
  } catch {
    return undefined;
  }
}

async function inGroups<T>(
  items: readonly T[],
  size: number,
  act: (item: T) => Promise<unknown>,
): Promise<void> {
  for (let start = 0; start < items.length; start += size) {
    await Promise.all(items.slice(start, start + size).map(act));
  }
}
