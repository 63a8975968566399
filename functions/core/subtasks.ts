import type { ScriptWaits } from './script-waits.ts';

/** The five subtasks of "Restart OCP agent", in execution order: the one place this fact lives. */
export interface SubtaskDefinition {
  /** Stable key, used for script files, SSM documents and configuration. */
  readonly key: SubtaskKey;
  /** Name shown to operators; also the Step Functions state name. */
  readonly name: string;
  readonly description: string;
  readonly className: string;
  /** Seconds; also the state's TimeoutSeconds. */
  readonly timeoutSeconds: number;
  /** OCP's series id for this subtask, as in the reference response. */
  readonly seriesId: number;
  /** Shell script in host-scripts/ that the SSM document runs on the host. */
  readonly script: string;
  /** The waits that script may perform, set by its document; they fit its execution timeout. */
  readonly scriptWaits: ScriptWaits;
}

export type SubtaskKey = 'prepare' | 'restartPosProxy' | 'stopAgent' | 'startAgent' | 'finish';

const CLASS_PREFIX = 'com.alipay.ocp.service.task.business.obagent.';

export const RESTART_SUBTASKS: readonly SubtaskDefinition[] = [
  {
    key: 'prepare',
    name: 'Prepare restart OCP agent',
    description: 'Prepare restart OCP agent',
    className: `${CLASS_PREFIX}PrepareRestartOcpAgentTask`,
    timeoutSeconds: 60,
    seriesId: 2,
    script: 'prepare-restart.sh',
    scriptWaits: {},
  },
  {
    key: 'restartPosProxy',
    name: 'Restart pos proxy',
    description: 'Restart pos proxy',
    className: `${CLASS_PREFIX}RestartPosProxyTask`,
    timeoutSeconds: 60,
    seriesId: 0,
    script: 'restart-pos-proxy.sh',
    scriptWaits: { stopGraceSeconds: 5, killWaitSeconds: 2, startWaitSeconds: 10 },
  },
  {
    key: 'stopAgent',
    name: 'Stop all OCP agent processes',
    description: 'Stop all OCP agent processes',
    className: `${CLASS_PREFIX}StopAllOcpAgentProcessesTask`,
    timeoutSeconds: 600,
    seriesId: 4,
    script: 'stop-agent.sh',
    scriptWaits: { stopGraceSeconds: 30, killWaitSeconds: 10 },
  },
  {
    key: 'startAgent',
    name: 'Start all OCP agent processes',
    description: 'Start all OCP agent processes',
    className: `${CLASS_PREFIX}StartAllOcpAgentProcessesTask`,
    timeoutSeconds: 600,
    seriesId: 1,
    script: 'start-agent.sh',
    scriptWaits: { startWaitSeconds: 30 },
  },
  {
    key: 'finish',
    name: 'Finish OCP agent operation',
    description: 'Finish OCP agent operation',
    className: `${CLASS_PREFIX}FinishOcpAgentOperationTask`,
    timeoutSeconds: 60,
    seriesId: 3,
    script: 'finish-operation.sh',
    scriptWaits: {},
  },
];

export const RESTART_TASK_NAME = 'Restart OCP agent';

/** Ids consumed per task: one for the task, one per subtask. */
export const IDS_PER_TASK = 1 + RESTART_SUBTASKS.length;

export function subtaskAt(index: number): SubtaskDefinition {
  const definition = RESTART_SUBTASKS[index];
  if (!definition) throw new RangeError(`No subtask at index ${index}`);
  return definition;
}

/**
 * The longest a task's run can take: every subtask's state timing out in turn. A task RUNNING for
 * longer since it was last handed to its workflow has lost its way (the "task stuck" alarm).
 */
export const MAX_TASK_RUN_SECONDS = RESTART_SUBTASKS.reduce(
  (sum, subtask) => sum + subtask.timeoutSeconds,
  0,
);
