import {
  type ChannelRead,
  checkCursor,
  decodeCursor,
  type LiveLogView,
  liveLogView,
  type RunningAttempt,
  startPositions,
} from '#core/live-log';
import { channelsCutBySsm, fullOutputLocation, type ShownAttempt } from '#core/subtask-log';
import { subtaskAt } from '#core/subtasks';
import type { SubtaskRecord, TaskRecord } from '#core/task';
// A static import: the bundle then keeps only GetLogEvents of the CloudWatch Logs client, where a
// dynamic one kept the whole client (63 KB more in the api's bundle).
import { readLiveChannel, withFullOutput } from '#store/command-output';
import type { HostRegistry } from '#store/host-registry';
import type { SubtaskLog, TaskStore } from '#store/task-store';

export interface ReadSubtaskLogDependencies {
  tasks: TaskStore;
  hosts: HostRegistry;
  /** The log group SSM streams the commands' output to. */
  outputLogGroup: () => string;
}

/**
 * A subtask's log: every recorded attempt's output, then, while its current attempt's command runs,
 * the output written so far, read from the CloudWatch Logs streams SSM writes it to. With a cursor
 * (from the previous answer), only what came after it. A cursor that is not this subtask's is
 * refused before anything is read.
 */
export async function readSubtaskLog(
  task: TaskRecord,
  subtask: SubtaskRecord,
  rawCursor: string | undefined,
  deps: ReadSubtaskLogDependencies,
): Promise<LiveLogView> {
  const cursor =
    rawCursor === undefined ? undefined : decodeCursor(rawCursor, { taskId: task.id, subtaskId: subtask.id });
  const recorded = await deps.tasks.subtaskLogs(task.id, subtask.id);
  const running =
    (subtask.status === 'RUNNING' || subtask.status === 'CANCELING') &&
    !recorded.some((attempt) => attempt.attempt === subtask.runTime);
  const attempt = running ? await deps.tasks.attempt(task.id, subtask.id, subtask.runTime) : undefined;
  const live: RunningAttempt | undefined = attempt?.commandId
    ? { attempt: attempt.attempt, commandId: attempt.commandId }
    : undefined;
  checkCursor(cursor ?? { taskId: task.id, subtaskId: subtask.id, ended: 0 }, recorded, live);

  const unread = recorded.filter((entry) => entry.attempt > (cursor?.ended ?? 0));
  const [shown, reads] = await Promise.all([
    showRecorded(unread),
    live && attempt
      ? readRunning(live, attempt.instanceId ?? (await instanceOf(task, deps)), subtask, cursor, deps)
      : undefined,
  ]);
  return liveLogView({
    taskId: task.id,
    subtaskId: subtask.id,
    recorded: shown,
    running,
    ...(live && reads ? { live: { attempt: live, reads } } : {}),
    ...(cursor ? { cursor } : {}),
  });
}

/** The recorded attempts as the log shows them: a channel SSM cut is read in full from its stream. */
async function showRecorded(attempts: SubtaskLog[]): Promise<ShownAttempt[]> {
  if (!attempts.some((attempt) => channelsCutBySsm(attempt).length > 0)) return attempts;
  return Promise.all(attempts.map(withFullOutput));
}

async function readRunning(
  running: RunningAttempt,
  instanceId: string | undefined,
  subtask: SubtaskRecord,
  cursor: Parameters<typeof startPositions>[0],
  deps: ReadSubtaskLogDependencies,
): Promise<Record<'stdout' | 'stderr', ChannelRead>> {
  const from = startPositions(cursor, running);
  // No instance known (its host is gone from the registry): nothing to read the streams by.
  if (!instanceId)
    return { stdout: { lines: [], next: from.stdout }, stderr: { lines: [], next: from.stderr } };
  const streams = fullOutputLocation(
    deps.outputLogGroup(),
    running.commandId,
    instanceId,
    subtaskAt(subtask.index).key,
  );
  const [stdout, stderr] = await Promise.all([
    readLiveChannel(streams.logGroup, streams.stdoutStream, from.stdout),
    readLiveChannel(streams.logGroup, streams.stderrStream, from.stderr),
  ]);
  return { stdout, stderr };
}

/** For an attempt begun before attempts kept their instance: its host's instance. */
async function instanceOf(task: TaskRecord, deps: ReadSubtaskLogDependencies): Promise<string | undefined> {
  return (await deps.hosts.find(BigInt(task.hostId)))?.instanceId;
}
