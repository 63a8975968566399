/**
 * The API's answers as schemas, for the OpenAPI document (openapi.ts) alone: the api function never
 * imports this file. Each schema's type is checked against the TypeScript view it describes (the
 * `Same` checks at the end), and test/core/openapi-document.test.ts validates real views against the
 * document, so a field added to a view and not here fails the build.
 */
import type { AgentProcessState } from '#core/agent-status';
import type { DryRunAnswer } from '#core/batch-dry-run';
import { BATCH_HOST_STATUSES } from '#core/batch-host-status';
import type { OcpBatchListing, OcpBatchTask } from '#core/batch-task-view';
import type { OcpErrorEnvelope, OcpPage, OcpSuccessEnvelope } from '#core/envelope';
import type { OcpHost } from '#core/host-view';
import type { LiveLogView } from '#core/live-log';
import * as z from '#core/schema';
import {
  type OcpSubtask,
  type OcpTask,
  OPERATIONS,
  SUBTASK_STATUSES,
  TASK_STATUSES,
  TASK_TYPES,
} from '#core/task';
import type { AgentStatus } from '#use-cases/get-agent-status';

/** OCP's timestamp (time.ts, ocpTimestamp): ISO 8601 with milliseconds and an explicit offset. */
const Timestamp = z.string().check(z.regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{2}:\d{2}$/));
const Id = z.int().check(z.positive());
const Count = z.int().check(z.nonnegative());
/** OCP's context values are strings: a flag is "true" or "false". */
const Flag = z.string().check(z.regex(/^(true|false)$/));

const TaskStatus = z.enum(TASK_STATUSES);
const SubtaskStatus = z.enum(SUBTASK_STATUSES);
const Operation = z.enum(OPERATIONS);
const BatchOperation = z.enum(['EXECUTE', 'RETRY', 'CANCEL']);
const TaskType = z.enum(TASK_TYPES);
const BatchHostStatus = z.enum(BATCH_HOST_STATUSES);
const InstancePing = z.enum(['Online', 'ConnectionLost', 'Inactive', 'NotRegistered']);

export const OcpSubtaskSchema = z.strictObject({
  className: z.string(),
  description: z.string(),
  downstreams: z.array(Id),
  id: Id,
  name: z.string(),
  nodeType: z.literal('JAVA_TASK'),
  operation: Operation,
  /** -1 for a single host's task and a batch's wait node; the host's index in a batch. */
  parallelIdx: z.int(),
  prohibitRollback: z.boolean(),
  runTime: Count,
  /** -1 for a batch's wait node. */
  seriesId: z.int(),
  status: SubtaskStatus,
  timeout: Count,
  upstreams: z.array(Id),
  startTime: z.optional(Timestamp),
  endTime: z.optional(Timestamp),
  error: z.optional(z.string()),
});

/** The fields a task, a batch and a batch's listing entry share, in OCP's order. */
const taskFields = {
  creator: z.string(),
  executor: z.string(),
  id: Id,
  name: z.string(),
  startTime: Timestamp,
  endTime: z.optional(Timestamp),
  status: TaskStatus,
  taskDefinitionId: z.int(),
  type: TaskType,
};

export const OcpTaskSchema = z.strictObject({
  ...taskFields,
  context: z.strictObject({
    listMap: z.record(z.string(), z.array(z.string())),
    parallel: z.boolean(),
    parallelIdx: z.int(),
    stringMap: z.strictObject({
      prohibit_rollback: Flag,
      host_id: z.string(),
      reason: z.optional(z.string()),
    }),
  }),
  hostId: Id,
  operation: Operation,
  subtasks: z.array(OcpSubtaskSchema),
});

const RolloutSettings = z.strictObject({
  maxConcurrency: Id,
  maxErrors: Count,
  healthCheckSeconds: Count,
  asked: z.strictObject({ maxConcurrency: z.string(), maxErrors: z.string() }),
});

const batchContext = <ListMap extends z.Schema>(listMap: ListMap) =>
  z.strictObject({
    listMap,
    parallel: z.boolean(),
    parallelIdx: z.int(),
    stringMap: z.strictObject({ prohibit_rollback: Flag, reason: z.optional(z.string()) }),
  });

export const OcpBatchTaskSchema = z.strictObject({
  ...taskFields,
  context: batchContext(z.strictObject({ host_ids: z.array(z.string()) })),
  operation: BatchOperation,
  subtasks: z.array(OcpSubtaskSchema),
  rollout: RolloutSettings,
  hosts: z.array(
    z.strictObject({
      hostId: Id,
      status: BatchHostStatus,
      taskId: z.optional(Id),
      failedSubtask: z.optional(z.string()),
      error: z.optional(z.string()),
      reason: z.optional(z.string()),
    }),
  ),
});

export const OcpBatchListingSchema = z.strictObject({
  ...taskFields,
  context: batchContext(z.strictObject({})),
  operation: BatchOperation,
  // z.toJSONSchema writes an empty tuple as `prefixItems: []`, which strict validators refuse.
  subtasks: z.withJsonSchema(z.tuple([]), { prefixItems: undefined, items: undefined, maxItems: 0 }),
  rollout: RolloutSettings,
  hostCount: Id,
});

export const DryRunAnswerSchema = z.strictObject({
  dryRun: z.literal(true),
  rollout: RolloutSettings,
  hostCount: Id,
  waves: Count,
  estimatedSeconds: Count,
  hosts: z.array(
    z.strictObject({
      hostId: Id,
      index: Count,
      known: z.boolean(),
      busyTaskId: z.optional(Id),
      pingStatus: z.optional(InstancePing),
      plan: z.enum(['start', 'notStarted', 'unknown']),
      wave: z.optional(Id),
      reason: z.optional(z.string()),
    }),
  ),
  unknownHostIds: z.array(Id),
  busyHosts: z.array(z.strictObject({ hostId: Id, taskId: Id })),
  unreachableHosts: z.array(
    z.strictObject({ hostId: Id, pingStatus: z.enum(['ConnectionLost', 'Inactive', 'NotRegistered']) }),
  ),
  stoppedHostIds: z.array(Id),
});

const AgentProcess = z.strictObject({ name: z.string(), pid: z.nullable(z.int()), running: z.boolean() });

export const AgentStatusSchema = z.strictObject({
  hostId: Id,
  status: z.enum(['STARTED', 'PARTIAL', 'STOPPED']),
  summary: z.string(),
  processes: z.array(AgentProcess),
  checkedAt: Timestamp,
});

export const SubtaskLogSchema = z.strictObject({
  log: z.string(),
  truncated: z.boolean(),
  /** True while the subtask's current attempt runs: `log` holds its output so far. */
  running: z.boolean(),
  /** Pass as `?cursor=` to read only what is new since this answer. */
  cursor: z.string(),
});

/** A host as the product knows it (core/host-view.ts): OCP's id and name, its registration, its lock. */
export const OcpHostSchema = z.strictObject({
  id: Id,
  name: z.nullable(z.string()),
  instanceId: z.string(),
  agentHome: z.string(),
  controlScript: z.string(),
  busy: z.boolean(),
  runningTaskId: z.nullable(Id),
});

const PageFields = z.strictObject({ totalElements: Count, totalPages: Count, number: Id, size: Id });

export const HostPageSchema = z.strictObject({ contents: z.array(OcpHostSchema), page: PageFields });

export const TaskPageSchema = z.strictObject({
  /** Newest first: single-host tasks, and batches as their listing entry (GET a batch for its hosts). */
  contents: z.array(z.union([OcpTaskSchema, OcpBatchListingSchema])),
  page: PageFields,
});

const envelopeFields = {
  timestamp: Timestamp,
  /** Milliseconds the request took. */
  duration: Count,
  traceId: z.string(),
  server: z.string(),
};

/** The OCP envelope of a successful answer, with the route's `data`. */
export const successEnvelope = <Data extends z.Schema>(data: Data) =>
  z.strictObject({ data, successful: z.literal(true), ...envelopeFields, status: z.int() });

/** The OCP envelope of every refusal and failure (envelope.ts, errorEnvelope). */
export const ErrorEnvelopeSchema = z.strictObject({
  successful: z.literal(false),
  ...envelopeFields,
  status: z.int(),
  error: z.strictObject({
    code: z.int(),
    message: z.string(),
    /** The request's field the error is about, when it is about one. */
    target: z.optional(z.string()),
  }),
});

/**
 * What API Gateway itself answers, not the function: its JWT authorizer's 401 (`Unauthorized`), and a
 * 500 when the function fails (`Internal Server Error`).
 */
export const GatewayErrorSchema = z.strictObject({ message: z.string() });

/** The type as its fields spell it, whatever intersections or aliases built it. */
type Spelled<T> = T extends readonly (infer Item)[]
  ? Spelled<Item>[]
  : T extends object
    ? { [Key in keyof T]: Spelled<T[Key]> }
    : T;
/** True when A and B spell the same type: the same fields, each as optional and of the same type. */
type Same<A, B> =
  (<T>() => T extends Spelled<A> ? 1 : 2) extends <T>() => T extends Spelled<B> ? 1 : 2 ? true : false;
const same = <_Check extends true>() => undefined;
same<Same<z.output<typeof OcpSubtaskSchema>, OcpSubtask>>();
same<Same<z.output<typeof OcpTaskSchema>, OcpTask>>();
same<Same<z.output<typeof OcpBatchTaskSchema>, OcpBatchTask>>();
same<Same<z.output<typeof OcpBatchListingSchema>, OcpBatchListing>>();
same<Same<z.output<typeof DryRunAnswerSchema>, DryRunAnswer>>();
same<Same<z.output<typeof AgentProcess>, AgentProcessState>>();
same<Same<z.output<typeof AgentStatusSchema>, AgentStatus>>();
same<Same<z.output<typeof SubtaskLogSchema>, LiveLogView>>();
same<Same<z.output<typeof OcpHostSchema>, OcpHost>>();
same<Same<z.output<typeof HostPageSchema>, OcpPage<OcpHost>>>();
same<Same<z.output<typeof ErrorEnvelopeSchema>, OcpErrorEnvelope>>();
same<Same<z.output<ReturnType<typeof successEnvelope<typeof OcpTaskSchema>>>, OcpSuccessEnvelope<OcpTask>>>();
