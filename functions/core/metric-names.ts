import { RESTART_SUBTASKS, type SubtaskKey } from './subtasks.ts';

/**
 * The product's CloudWatch metrics: the one place their names, units and dimensions live, read by
 * the handlers that emit them (functions/metrics.ts) and by the stack's alarms and dashboard. Every
 * dimension has few values (a subtask, an outcome): never a host, a task or a request.
 */
export const METRICS_NAMESPACE = 'OcpAgentRestart';

/** Powertools adds it to every metric as the `service` dimension: part of each metric's identity. */
export const METRICS_SERVICE = 'ocp-agent-restart';

export const METRIC_DIMENSIONS = {
  service: 'service',
  outcome: 'outcome',
  subtask: 'subtask',
  code: 'code',
} as const;

/** How a restart task or a subtask attempt ended. */
export type MetricOutcome = 'SUCCESSFUL' | 'FAILED';
export const METRIC_OUTCOMES: readonly MetricOutcome[] = ['SUCCESSFUL', 'FAILED'];

export type MetricUnitName = 'Count' | 'Seconds' | 'Milliseconds';

interface MetricDefinition<Dimension extends keyof typeof METRIC_DIMENSIONS> {
  readonly name: string;
  readonly unit: MetricUnitName;
  /** The dimensions besides `service`, in the order they are emitted. */
  readonly dimensions: readonly Dimension[];
  readonly description: string;
}

export const METRICS = {
  restartTaskStarted: {
    name: 'RestartTasksStarted',
    unit: 'Count',
    dimensions: [],
    description: 'A restart task was created (API, event, schedule or fleet rollout)',
  },
  restartTaskEnded: {
    name: 'RestartTasksEnded',
    unit: 'Count',
    dimensions: ['outcome'],
    description: 'A restart task ended SUCCESSFUL or FAILED',
  },
  subtaskDuration: {
    name: 'SubtaskDuration',
    unit: 'Seconds',
    dimensions: ['subtask', 'outcome'],
    description: 'How long a subtask attempt ran, from its start to its command’s recorded outcome',
  },
  oldestRunningTaskAge: {
    name: 'OldestRunningTaskAge',
    unit: 'Seconds',
    dimensions: [],
    description:
      'Seconds since the oldest RUNNING task was last handed to its workflow (0 when none runs); the sweep emits it every minute',
  },
  runningTasks: {
    name: 'RunningRestartTasks',
    unit: 'Count',
    dimensions: [],
    description: 'RUNNING restart tasks, as the sweep counts them every minute',
  },
  rejectedRestartRequest: {
    name: 'RejectedRestartRequests',
    unit: 'Count',
    dimensions: ['code'],
    description:
      'A restart request from an event or a schedule was refused (kept in the rejected-requests queue)',
  },
} as const satisfies Record<string, MetricDefinition<keyof typeof METRIC_DIMENSIONS>>;

export type MetricId = keyof typeof METRICS;

/** The dimension values a metric is emitted with (besides `service`). */
export type MetricDimensionValues<Id extends MetricId> = {
  readonly [D in (typeof METRICS)[Id]['dimensions'][number]]: string;
};

/** One data point, as a handler emits it: a metric with exactly its dimensions. */
export type MetricPoint = {
  readonly [Id in MetricId]: {
    readonly metric: Id;
    readonly value: number;
    readonly dimensions: MetricDimensionValues<Id>;
  };
}[MetricId];

/** The subtask dimension's value: the subtask's stable key. */
export const subtaskDimension = (key: SubtaskKey): string => key;
export const SUBTASK_DIMENSION_VALUES: readonly string[] = RESTART_SUBTASKS.map((subtask) =>
  subtaskDimension(subtask.key),
);
