/**
 * The API's OpenAPI 3.1 document, built from the schemas that validate requests (batch-request.ts,
 * task-list-query.ts, restart-body.ts, ids.ts) and those that describe answers (openapi-schemas.ts).
 * `npm run generate:openapi` writes it to openapi.json; the api function serves that file and never
 * imports this one.
 */

import * as zod from 'zod/mini';
import { BatchRequestBody } from '#core/batch-request';
import { INTERNAL_ERROR } from '#core/envelope';
import type { Permission } from '#core/identity';
import { LONG_ID_JSON_SCHEMA } from '#core/ids';
import * as z from '#core/schema';
import { HostListQueryParameters } from '#http/host-list-query';
import { RestartBody } from '#http/restart-body';
import { API_ROUTES, type RouteId, STATIC_ROUTES } from '#http/routes';
import { SubtaskLogQueryParameters } from '#http/subtask-log-query';
import { TaskListQueryParameters } from '#http/task-list-query';
import { declaredJsonSchema, zodMirror } from '#http/zod-mirror';
import packageJson from '../../package.json' with { type: 'json' };
import {
  AgentStatusSchema,
  DryRunAnswerSchema,
  ErrorEnvelopeSchema,
  GatewayErrorSchema,
  HostPageSchema,
  OcpBatchListingSchema,
  OcpBatchTaskSchema,
  OcpHostSchema,
  OcpSubtaskSchema,
  OcpTaskSchema,
  SubtaskLogSchema,
  successEnvelope,
  TaskPageSchema,
} from './openapi-schemas.ts';

type JsonSchema = z.JsonSchema;

/** OCP's error codes the API answers, by the name OCP gives each, with their HTTP status (errors.ts). */
export const OCP_ERRORS = {
  COMMON_ILLEGAL_ARGUMENT: { status: 400, code: 10001 },
  TASK_PROHIBIT_ROLLBACK: { status: 400, code: 20004 },
  IAM_USER_NOT_AUTHENTICATED: { status: 401, code: 30000 },
  IAM_OPERATION_NOT_PERMITTED: { status: 403, code: 30014 },
  COMMON_NOT_FOUND: { status: 404, code: 10002 },
  TASK_NOT_EXISTS: { status: 404, code: 20000 },
  COMMON_CONFLICT: { status: 409, code: 10009 },
  TASK_STATE_INVALID: { status: 409, code: 20003 },
  INTERNAL_ERROR: { status: 500, code: INTERNAL_ERROR.code },
  COMPUTE_HOST_AGENT_STATUS_NOT_VALID: { status: 503, code: 40000 },
} as const;

export type OcpErrorName = keyof typeof OCP_ERRORS;

/** Statuses API Gateway may answer itself, with its own body (GatewayError), before or instead of the function. */
const GATEWAY_STATUSES: Record<number, string> = {
  401: 'On AWS, API Gateway\'s JWT authorizer refuses a missing or invalid token itself: `{"message":"Unauthorized"}`.',
  500: 'When the function itself fails, API Gateway answers `{"message":"Internal Server Error"}`.',
};

/** Every route can refuse a bad id, body or query, a missing identity or permission, and can fail. */
const EVERY_ROUTE_ERRORS: readonly OcpErrorName[] = [
  'COMMON_ILLEGAL_ARGUMENT',
  'IAM_USER_NOT_AUTHENTICATED',
  'IAM_OPERATION_NOT_PERMITTED',
  'INTERNAL_ERROR',
];

interface OperationDoc {
  tag: 'Hosts' | 'Tasks';
  summary: string;
  description?: string;
  /** Any one of them is enough (api.ts, requirePermission). */
  permissions: readonly Permission[];
  query?: z.ObjectSchema;
  body?: { schema: z.Schema; name: string; required: boolean };
  /** The success envelope's `data`, registered under `name`. */
  data: z.Schema;
  /** OCP errors beyond EVERY_ROUTE_ERRORS. */
  errors: readonly OcpErrorName[];
}

const TASK_OR_BATCH = z.union([OcpTaskSchema, OcpBatchTaskSchema]);

/** One entry per route of API_ROUTES: a route added there does not compile until it is documented. */
export const OPERATIONS: Record<RouteId, OperationDoc> = {
  restartAgent: {
    tag: 'Hosts',
    summary: 'Restart the OCP agent on a host',
    description: 'Starts a restart task of five subtasks and answers it, RUNNING.',
    permissions: ['HOST_MANAGER'],
    body: { schema: RestartBody, name: 'RestartRequest', required: false },
    data: OcpTaskSchema,
    errors: ['COMMON_NOT_FOUND', 'COMMON_CONFLICT'],
  },
  batchRestartAgents: {
    tag: 'Hosts',
    summary: 'Restart the OCP agent on many hosts',
    description:
      'Starts a batch that rolls the restart out over the hosts, in the order given, with the rollout controls; ' +
      'a dry run (`dryRun: true`) answers the plan instead, and writes and starts nothing.',
    permissions: ['HOST_MANAGER'],
    body: { schema: BatchRequestBody, name: 'BatchRestartRequest', required: true },
    data: z.union([OcpBatchTaskSchema, DryRunAnswerSchema]),
    errors: ['COMMON_NOT_FOUND'],
  },
  getAgentStatus: {
    tag: 'Hosts',
    summary: "Read the OCP agent's status on a host",
    description: 'Asks the host, through SSM, which agent processes run (waits up to 20 s for the answer).',
    permissions: ['HOST_VIEWER', 'HOST_MANAGER'],
    data: AgentStatusSchema,
    errors: ['COMMON_NOT_FOUND', 'COMPUTE_HOST_AGENT_STATUS_NOT_VALID'],
  },
  listHosts: {
    tag: 'Hosts',
    summary: 'List the registered hosts, by id',
    description:
      'Each host with its registration and whether an agent operation holds it (and which task); ' +
      '`id` filters to one or several hosts (`id=1,2`).',
    permissions: ['HOST_VIEWER', 'HOST_MANAGER'],
    query: HostListQueryParameters,
    data: HostPageSchema,
    errors: [],
  },
  getHost: {
    tag: 'Hosts',
    summary: 'Read a registered host',
    permissions: ['HOST_VIEWER', 'HOST_MANAGER'],
    data: OcpHostSchema,
    errors: ['COMMON_NOT_FOUND'],
  },
  getTask: {
    tag: 'Tasks',
    summary: 'Read a task or a batch',
    permissions: ['TASK_VIEWER', 'TASK_MANAGER'],
    data: TASK_OR_BATCH,
    errors: ['TASK_NOT_EXISTS'],
  },
  listTasks: {
    tag: 'Tasks',
    summary: 'List tasks and batches, newest first',
    permissions: ['TASK_VIEWER', 'TASK_MANAGER'],
    query: TaskListQueryParameters,
    data: TaskPageSchema,
    errors: [],
  },
  getSubtaskLog: {
    tag: 'Tasks',
    summary: "Read a subtask's log",
    description:
      "Every attempt's stdout and stderr on the host, oldest first, and while an attempt runs its output so far; " +
      "with the previous answer's `cursor`, only what is new since.",
    permissions: ['TASK_VIEWER', 'TASK_MANAGER'],
    query: SubtaskLogQueryParameters,
    data: SubtaskLogSchema,
    errors: ['TASK_NOT_EXISTS', 'COMMON_NOT_FOUND'],
  },
  retryTask: {
    tag: 'Tasks',
    summary: 'Retry a failed task or batch',
    permissions: ['TASK_MANAGER'],
    data: TASK_OR_BATCH,
    // COMMON_NOT_FOUND: the task's host is no longer registered (or holds a value its SSM document refuses).
    errors: ['TASK_NOT_EXISTS', 'COMMON_NOT_FOUND', 'TASK_STATE_INVALID'],
  },
  cancelTask: {
    tag: 'Tasks',
    summary: 'Cancel a batch',
    description:
      'Beyond OCP: no new host of the batch starts, and its running hosts are cancelled. A single-host task is ' +
      'refused: cancel its running subtask instead.',
    permissions: ['TASK_MANAGER'],
    data: OcpBatchTaskSchema,
    errors: ['TASK_NOT_EXISTS', 'TASK_STATE_INVALID'],
  },
  rollbackTask: {
    tag: 'Tasks',
    summary: 'Roll back a failed task',
    permissions: ['TASK_MANAGER'],
    data: OcpTaskSchema,
    errors: ['TASK_PROHIBIT_ROLLBACK', 'TASK_NOT_EXISTS', 'COMMON_NOT_FOUND', 'TASK_STATE_INVALID'],
  },
  skipSubtask: {
    tag: 'Tasks',
    summary: 'Skip a failed subtask and resume the task',
    permissions: ['TASK_MANAGER'],
    data: OcpTaskSchema,
    errors: ['TASK_NOT_EXISTS', 'COMMON_NOT_FOUND', 'TASK_STATE_INVALID'],
  },
  cancelSubtask: {
    tag: 'Tasks',
    summary: 'Cancel a running subtask',
    permissions: ['TASK_MANAGER'],
    data: OcpTaskSchema,
    errors: ['TASK_NOT_EXISTS', 'COMMON_NOT_FOUND', 'TASK_STATE_INVALID'],
  },
};

const PATH_PARAMETERS: Record<string, string> = {
  hostId: "The host's id.",
  id: "The id of a task or of a batch (a batch's id is a task id too).",
  subtaskId: "The subtask's id.",
};

const SCHEMA_REF = '#/components/schemas/';
const ref = (name: string) => ({ $ref: `${SCHEMA_REF}${name}` });

export function buildOpenApiDocument() {
  const routeIds = Object.keys(API_ROUTES) as RouteId[];
  const answers = zod.registry<{ id: string }>();
  answers.add(zodMirror(OcpSubtaskSchema), { id: 'OcpSubtask' });
  answers.add(zodMirror(OcpTaskSchema), { id: 'OcpTask' });
  answers.add(zodMirror(OcpBatchTaskSchema), { id: 'OcpBatchTask' });
  answers.add(zodMirror(OcpBatchListingSchema), { id: 'OcpBatchListing' });
  answers.add(zodMirror(DryRunAnswerSchema), { id: 'DryRunAnswer' });
  answers.add(zodMirror(AgentStatusSchema), { id: 'AgentStatus' });
  answers.add(zodMirror(SubtaskLogSchema), { id: 'SubtaskLog' });
  answers.add(zodMirror(TaskPageSchema), { id: 'TaskPage' });
  answers.add(zodMirror(OcpHostSchema), { id: 'OcpHost' });
  answers.add(zodMirror(HostPageSchema), { id: 'HostPage' });
  answers.add(zodMirror(ErrorEnvelopeSchema), { id: 'ErrorEnvelope' });
  answers.add(zodMirror(GatewayErrorSchema), { id: 'GatewayError' });
  for (const id of routeIds)
    answers.add(zodMirror(successEnvelope(OPERATIONS[id].data)), { id: answerName(id) });
  const requests = zod.registry<{ id: string }>();
  for (const id of routeIds) {
    const body = OPERATIONS[id].body;
    if (body) requests.add(zodMirror(body.schema), { id: body.name });
  }

  const paths: Record<string, Record<string, unknown>> = {};
  for (const id of routeIds) {
    const route = API_ROUTES[id];
    const operation = OPERATIONS[id];
    paths[route.path] ??= {};
    paths[route.path]![route.method.toLowerCase()] = {
      operationId: id,
      tags: [operation.tag],
      summary: operation.summary,
      description: [operation.description, `Needs the ${operation.permissions.join(' or ')} permission.`]
        .filter(Boolean)
        .join('\n\n'),
      parameters: [...pathParameters(route.path), ...queryParameters(operation.query)],
      ...(operation.body
        ? {
            requestBody: {
              required: operation.body.required,
              content: { 'application/json': { schema: ref(operation.body.name) } },
            },
          }
        : {}),
      responses: {
        '200': {
          description: 'The OCP envelope with the answer in `data`.',
          content: { 'application/json': { schema: withStatus(ref(answerName(id)), 200) } },
        },
        ...errorResponses([...EVERY_ROUTE_ERRORS, ...operation.errors]),
      },
    };
  }
  paths[STATIC_ROUTES.openApi.path] = {
    get: {
      operationId: 'getOpenApiDocument',
      tags: ['Meta'],
      summary: 'This document',
      description: 'Served without authentication.',
      security: [],
      responses: {
        '200': {
          description: 'The OpenAPI document (not an OCP envelope).',
          content: { 'application/json': { schema: { type: 'object', required: ['openapi', 'paths'] } } },
        },
      },
    },
  };
  const notFound = {
    description: 'No such file: the OCP error envelope.',
    content: { 'application/json': { schema: withStatus(ref('ErrorEnvelope'), 404) } },
  };
  paths[STATIC_ROUTES.consolePage.path] = {
    get: {
      operationId: 'getConsolePage',
      tags: ['Console'],
      summary: 'The web task center',
      description:
        'Served without authentication; the page signs in itself (hosted login, or a pasted token) before it calls the API.',
      security: [],
      responses: {
        '200': { description: 'The console page.', content: { 'text/html': { schema: { type: 'string' } } } },
      },
    },
  };
  paths[STATIC_ROUTES.consoleAsset.path] = {
    get: {
      operationId: 'getConsoleAsset',
      tags: ['Console'],
      summary: 'A file of the web task center (its script, style sheet, or config.json)',
      security: [],
      parameters: [
        {
          name: 'asset',
          in: 'path',
          required: true,
          schema: { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]{0,63}$' },
        },
      ],
      responses: {
        '200': {
          description: 'The file; `config.json` tells the page how to sign in.',
          content: {
            'text/javascript': { schema: { type: 'string' } },
            'text/css': { schema: { type: 'string' } },
            'application/json': { schema: { type: 'object' } },
          },
        },
        '404': notFound,
      },
    },
  };

  return {
    openapi: '3.1.0',
    info: {
      title: 'OCP agent restart API',
      version: packageJson.version,
      description:
        "OCP's API to restart the OCP agent on hosts and to read and act on the restart tasks, on AWS. Every " +
        'answer, success or error, is an OCP envelope; send the token as "Authorization: Bearer <token>".',
    },
    tags: [
      { name: 'Hosts', description: "Restart hosts' OCP agent and read its status." },
      { name: 'Tasks', description: 'Restart tasks and batches.' },
      { name: 'Meta', description: 'The API about itself.' },
    ],
    security: [{ bearerAuth: [] }],
    paths,
    components: {
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: "A token of the stack's user pool (local mode: `npm run token`).",
        },
      },
      schemas: { ...componentSchemas(requests, 'input'), ...componentSchemas(answers, 'output') },
    },
  };
}

const answerName = (id: RouteId) => `${id[0]!.toUpperCase()}${id.slice(1)}Answer`;

/** The envelope schema narrowed to the one status it carries in that response. */
const withStatus = (schema: JsonSchema, status: number) => ({
  allOf: [schema, { type: 'object', properties: { status: { const: status } } }],
});

function errorResponses(names: readonly OcpErrorName[]): Record<string, unknown> {
  const byStatus = new Map<number, OcpErrorName[]>();
  for (const name of names) {
    const { status } = OCP_ERRORS[name];
    byStatus.set(status, [...(byStatus.get(status) ?? []), name]);
  }
  const responses: Record<string, unknown> = {};
  for (const [status, statusNames] of [...byStatus].sort(([a], [b]) => a - b)) {
    const codes = statusNames.map((name) => OCP_ERRORS[name].code);
    const envelope = {
      allOf: [
        ref('ErrorEnvelope'),
        {
          type: 'object',
          properties: {
            status: { const: status },
            error: { type: 'object', properties: { code: { enum: codes } } },
          },
        },
      ],
    };
    const gateway = GATEWAY_STATUSES[status];
    responses[String(status)] = {
      description: [
        `An OCP error envelope: ${statusNames.map((name) => `${OCP_ERRORS[name].code} ${name}`).join(', ')}.`,
        gateway,
      ]
        .filter(Boolean)
        .join(' '),
      content: {
        'application/json': { schema: gateway ? { anyOf: [envelope, ref('GatewayError')] } : envelope },
      },
    };
  }
  return responses;
}

function pathParameters(path: string) {
  return [...path.matchAll(/\{(\w+)\}/g)].map(([, name]) => ({
    name,
    in: 'path',
    required: true,
    description: PATH_PARAMETERS[name!],
    schema: LONG_ID_JSON_SCHEMA,
  }));
}

function queryParameters(query: z.ObjectSchema | undefined) {
  return Object.entries(query?.shape ?? {}).map(([name, schema]) => {
    const { description, ...jsonSchema } = toJsonSchema(schema, 'input');
    return {
      name,
      in: 'query',
      required: !schema.optional,
      ...(description ? { description } : {}),
      schema: jsonSchema,
    };
  });
}

/** What zod's toJSONSchema emits, with each declared JSON Schema merged over it (schema.ts, withJsonSchema). */
const override = (context: { zodSchema: object; jsonSchema: Record<string, unknown> }) => {
  const declared = declaredJsonSchema(context.zodSchema);
  for (const [keyword, value] of Object.entries(declared ?? {})) {
    if (value === undefined) delete context.jsonSchema[keyword];
    else context.jsonSchema[keyword] = value;
  }
};

function toJsonSchema(schema: z.Schema, io: 'input' | 'output'): JsonSchema {
  const { $schema: _, ...jsonSchema } = zod.toJSONSchema(zodMirror(schema), {
    target: 'draft-2020-12',
    io,
    override,
  });
  return jsonSchema;
}

function componentSchemas(registry: zod.core.$ZodRegistry<{ id: string }>, io: 'input' | 'output') {
  const { schemas } = zod.toJSONSchema(registry, {
    target: 'draft-2020-12',
    io,
    override,
    uri: (id) => `${SCHEMA_REF}${id}`,
  });
  return Object.fromEntries(
    Object.entries(schemas).map(([name, { $schema: _, $id: __, ...schema }]) => [name, schema]),
  );
}

/** Where the document is committed, from the repository's root; the api function bundles it from there. */
export const OPENAPI_FILE = 'openapi.json';

/** The document as openapi.json holds it. */
export const openApiText = () => `${JSON.stringify(buildOpenApiDocument(), null, 2)}\n`;
