import { InvalidArgument } from './errors.ts';
import { parseLongId } from './ids.ts';
import * as z from './schema.ts';

/**
 * The body of `POST /compute/hosts/batchRestartAgents` (HOST_MANAGER): OCP's `{ "hostIds": [1001, 1002] }`
 * (a LongArray; OCP's own sample request spells the key `hostids`, so either spelling is read, never
 * both), plus what this product adds: rollout controls after SSM Run Command's, a dry run, and
 * `prohibitRollback` as the single-host restart takes it.
 */
export interface BatchRequest {
  /** The hosts, in the order given: the rollout starts them in this order. */
  hostIds: number[];
  rollout: RolloutRequest;
  dryRun: boolean;
  prohibitRollback: boolean;
}

/** A rollout limit as asked: a number of hosts, or a percentage of the batch's hosts. */
export type RolloutLimit = { count: number } | { percent: number };

/** The rollout controls as asked; resolveRollout (rollout.ts) turns them into counts with the defaults. */
export interface RolloutRequest {
  maxConcurrency?: RolloutLimit;
  maxErrors?: RolloutLimit;
  healthCheckSeconds?: number;
}

/** The rollout controls as a request writes them (JSON), before parseBatchRequest reads them. */
export interface RolloutFields {
  /** A number of hosts, or a percentage of the batch's as "10%". */
  maxConcurrency?: number | string;
  maxErrors?: number | string;
  healthCheckSeconds?: number;
}

/** Hosts one batch may name (and one restart schedule, whose runs are batches). */
export const MAX_BATCH_HOSTS = 1000;
/** Largest count of maxConcurrency and maxErrors: a batch's largest number of hosts. */
export const MAX_ROLLOUT_COUNT = MAX_BATCH_HOSTS;
/** Longest wait after a host's restart before its health counts (10 minutes, the longest subtask's timeout). */
export const MAX_HEALTH_CHECK_SECONDS = 600;
/** Duplicated ids named in one refusal; the rest are counted. */
const DUPLICATES_SHOWN = 10;

const BODY_FIELDS = ['hostIds', 'rollout', 'dryRun', 'prohibitRollback'] as const;
const ROLLOUT_FIELDS = ['maxConcurrency', 'maxErrors', 'healthCheckSeconds'] as const;

/**
 * Percentages as SSM's API models write them for MaxConcurrency (`^([1-9][0-9]*|[1-9][0-9]%|[1-9]%|100%)$`)
 * and MaxErrors (`^([1-9][0-9]*|[0]|[1-9][0-9]%|[0-9]%|100%)$`): whole numbers without leading zeros.
 */
const CONCURRENCY_PERCENT = /^(100|[1-9][0-9]?)%$/;
const ERRORS_PERCENT = /^(100|[1-9]?[0-9])%$/;

interface LimitRule {
  minCount: number;
  percent: RegExp;
  minPercent: number;
}

const CONCURRENCY: LimitRule = { minCount: 1, percent: CONCURRENCY_PERCENT, minPercent: 1 };
const ERRORS: LimitRule = { minCount: 0, percent: ERRORS_PERCENT, minPercent: 0 };

const unknownFields = (allowed: readonly string[]) => (issue: z.RawIssue) => {
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((key) => JSON.stringify(key)).join(', ');
    return `has unknown field${issue.keys.length === 1 ? '' : 's'} ${keys} (allowed: ${allowed.join(', ')})`;
  }
  return `must be a JSON object, got ${describe(issue.input)}`;
};

/** A problem found by a rule of this file: its message, and where below the checked value it is. */
interface Problem {
  message: string;
  path?: (string | number)[];
}

/** A check adding the problems `find` reports, with the value checked as their input. */
const problems = <T>(find: (value: T) => Problem[]) =>
  z.superRefine<T>((value, context) => {
    for (const problem of find(value)) context.addIssue({ code: 'custom', input: value, ...problem });
  });

const one = (message: string | undefined): Problem[] => (message === undefined ? [] : [{ message }]);

const HostId = z.withJsonSchema(
  z
    .number({ error: (issue) => `must be a host id (a JSON integer), got ${describe(issue.input)}` })
    .check(problems((id: number) => one(hostIdProblem(id)))),
  { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
);

const HostIds = z.withJsonSchema(
  z
    .array(HostId, { error: (issue) => `must be a list of host ids, got ${describe(issue.input)}` })
    .check(problems(hostListProblems)),
  { minItems: 1, maxItems: MAX_BATCH_HOSTS, uniqueItems: true },
);

const limit = (rule: LimitRule) =>
  z.withJsonSchema(
    z
      .union([z.number(), z.string()], { error: (issue) => limitRefusal(rule, issue.input) })
      .check(problems((value: number | string) => one(limitProblem(value, rule)))),
    {
      type: undefined,
      anyOf: [
        { type: 'integer', minimum: rule.minCount, maximum: MAX_ROLLOUT_COUNT },
        { type: 'string', pattern: rule.percent.source },
      ],
    },
  );

const Rollout = z.strictObject(
  {
    maxConcurrency: z.optional(limit(CONCURRENCY)),
    maxErrors: z.optional(limit(ERRORS)),
    healthCheckSeconds: z.optional(
      z.withJsonSchema(
        z
          .number({ error: (issue) => healthCheckRefusal(issue.input) })
          .check(
            problems((seconds: number) =>
              one(
                isIntegerIn(seconds, 0, MAX_HEALTH_CHECK_SECONDS) ? undefined : healthCheckRefusal(seconds),
              ),
            ),
          ),
        { type: 'integer', minimum: 0, maximum: MAX_HEALTH_CHECK_SECONDS },
      ),
    ),
  },
  { error: unknownFields(ROLLOUT_FIELDS) },
);

const flag = z.boolean({ error: (issue) => `must be true or false, got ${describe(issue.input)}` });

/** The body's schema: the shape, strict at every level, then the rules z cannot say alone. */
export const BatchRequestBody = z.withJsonSchema(
  z
    .strictObject(
      {
        hostIds: z.optional(HostIds),
        hostids: z.optional(HostIds),
        rollout: z.optional(Rollout),
        dryRun: z.optional(flag),
        prohibitRollback: z.optional(flag),
      },
      { error: unknownFields(BODY_FIELDS) },
    )
    .check(
      problems((body: { hostIds?: unknown; hostids?: unknown }): Problem[] => {
        if (body.hostIds !== undefined && body.hostids !== undefined)
          return [{ message: 'gives both hostIds and hostids: give the hosts once, as hostIds' }];
        if (body.hostIds === undefined && body.hostids === undefined)
          return [{ message: 'is required', path: ['hostIds'] }];
        return [];
      }),
    ),
  {
    oneOf: [
      { type: 'object', required: ['hostIds'] },
      { type: 'object', required: ['hostids'] },
    ],
  },
);

/** What a refusal calls the request read, and where in it the batch's fields are. */
export interface BatchRequestSource {
  /** e.g. "request body", "restart request". */
  subject: string;
  /** The path of the batch's fields in what the sender sent (e.g. `["detail"]` for an event's). */
  at: readonly string[];
}

const API_BODY: BatchRequestSource = { subject: 'request body', at: [] };

/**
 * Reads the parsed JSON body of a batch restart (an absent body read as `{}`). Every refusal is an
 * InvalidArgument naming the field (`hostIds[3]`, `rollout.maxErrors`, or `body`) and what is wrong.
 * Events and schedules send the same fields within their own: `source` names them in refusals
 * (`detail.hostIds[3]`).
 */
export function parseBatchRequest(body: unknown, source: BatchRequestSource = API_BODY): BatchRequest {
  const parsed = BatchRequestBody.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = fieldName([...source.at, ...(issue?.path ?? [])]);
    throw new InvalidArgument(
      `Invalid ${source.subject}: ${field} ${issue?.message ?? 'is invalid'}.`,
      field,
    );
  }
  const { hostIds, hostids, rollout, dryRun, prohibitRollback } = parsed.data;
  return {
    hostIds: hostIds ?? hostids ?? [],
    rollout: {
      ...(rollout?.maxConcurrency === undefined ? {} : { maxConcurrency: toLimit(rollout.maxConcurrency) }),
      ...(rollout?.maxErrors === undefined ? {} : { maxErrors: toLimit(rollout.maxErrors) }),
      ...(rollout?.healthCheckSeconds === undefined
        ? {}
        : { healthCheckSeconds: rollout.healthCheckSeconds }),
    },
    dryRun: dryRun ?? false,
    prohibitRollback: prohibitRollback ?? false,
  };
}

function hostListProblems(ids: number[]): Problem[] {
  if (ids.length === 0) return [{ message: 'must name at least one host, got an empty list' }];
  if (ids.length > MAX_BATCH_HOSTS)
    return [{ message: `names ${ids.length} hosts, more than the ${MAX_BATCH_HOSTS} one batch may restart` }];
  const seen = new Set<number>();
  const repeated = new Set<number>();
  for (const id of ids) (seen.has(id) ? repeated : seen).add(id);
  if (repeated.size === 0) return [];
  const shown = [...repeated].slice(0, DUPLICATES_SHOWN).join(', ');
  const more = repeated.size > DUPLICATES_SHOWN ? ` and ${repeated.size - DUPLICATES_SHOWN} more` : '';
  return [{ message: `names ${repeated.size === 1 ? 'a host' : 'hosts'} more than once: ${shown}${more}` }];
}

/**
 * An id must be one parseLongId would take (a positive 64-bit integer) and must read exactly: JSON.parse
 * reads a number beyond 2^53 − 1 as the nearest double, which may be another host's id (2^63 − 1 reads
 * as 2^63), so such a number is refused whatever it was meant to be.
 */
function hostIdProblem(id: number): string | undefined {
  if (Number.isInteger(id) && !Number.isSafeInteger(id))
    return `must be at most ${Number.MAX_SAFE_INTEGER} (2^53 − 1), got ${BigInt(id)}: a JSON number beyond it is not read exactly and could name another host`;
  try {
    parseLongId(String(id), 'hostId');
  } catch {
    return `must be a positive 64-bit integer, got ${describe(id)}`;
  }
  return undefined;
}

function limitProblem(value: number | string, rule: LimitRule): string | undefined {
  if (typeof value === 'number' && isIntegerIn(value, rule.minCount, MAX_ROLLOUT_COUNT)) return undefined;
  if (typeof value === 'string' && rule.percent.test(value)) return undefined;
  return limitRefusal(rule, value);
}

function limitRefusal(rule: LimitRule, value: unknown): string {
  return `must be a whole number of hosts from ${rule.minCount} to ${MAX_ROLLOUT_COUNT} or a whole percentage from "${rule.minPercent}%" to "100%", got ${describe(value)}`;
}

function healthCheckRefusal(value: unknown): string {
  return `must be a whole number of seconds from 0 to ${MAX_HEALTH_CHECK_SECONDS}, got ${describe(value)}`;
}

function toLimit(value: number | string): RolloutLimit {
  return typeof value === 'number' ? { count: value } : { percent: Number(value.slice(0, -1)) };
}

function isIntegerIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/** `hostIds[3]`, `rollout.maxErrors`, or `body` for the body itself. */
function fieldName(path: readonly PropertyKey[]): string {
  if (path.length === 0) return 'body';
  return path
    .map((part, position) =>
      typeof part === 'number' ? `[${part}]` : `${position === 0 ? '' : '.'}${String(part)}`,
    )
    .join('');
}

/** A JSON value as a refusal names it: short, and never the whole of a long text or list. */
function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') {
    const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
    return `the text ${JSON.stringify(shown)}`;
  }
  return String(value);
}
