import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { RolloutFields } from '#core/batch-request';
import { RESTART_REQUESTED_EVENT, restartEventKey } from '#core/event-patterns';
import { scheduledRestartInput } from '#core/scheduled-restart';
import { batchKey, requestKey, taskKey } from '#store/table-schema';
import { localStateDir } from './jwt.ts';
import { ENDPOINTS_FILE, functionName, type LocalEndpoints } from './local-system.ts';

const DEFAULT_WAIT_SECONDS = 30;
const POLL_MS = 200;
/** A rejection event of another request, seen while looking for ours, stays hidden this long (SQS visibility). */
const PEEK_VISIBILITY_SECONDS = 2;
/** Rejection events older than this are no one's outcome any more: they are deleted on the way. */
const STALE_REJECTION_MS = 10 * 60_000;
const EXIT_REFUSED = 1;
const EXIT_USAGE = 2;
const EXIT_NO_OUTCOME = 3;

const USAGE = `Usage (with npm start running):
  npm run event -- restart --host 2 [--reason "agent unhealthy"] [--requested-by monitoring] [--prohibit-rollback] [--wait ${DEFAULT_WAIT_SECONDS}]
      puts an "${RESTART_REQUESTED_EVENT.detailType}" event on the product's bus (EventBridge PutEvents),
      then waits up to --wait seconds for its outcome: the task it started (exit 0), or why it was
      rejected or skipped (exit ${EXIT_REFUSED}); no outcome in time exits ${EXIT_NO_OUTCOME}
  npm run event -- restart --hosts 1,2,3 [ROLLOUT] [--reason ...] [--requested-by ...] [--prohibit-rollback] [--wait ${DEFAULT_WAIT_SECONDS}]
      the same event with hostIds: the hosts restart as one batch; prints the batch it started
      (exit 0), or why it was rejected (exit ${EXIT_REFUSED}); no outcome in time exits ${EXIT_NO_OUTCOME}
  npm run event -- schedule --hosts 1,2,3 [ROLLOUT] [--reason ...]
      runs a restart schedule now, as EventBridge Scheduler would (Lambda Invoke of the trigger
      function): its hosts restart as one batch; prints the batch it started (exit 0), or why the
      run was rejected (exit ${EXIT_REFUSED})
  ROLLOUT, as the batch API's rollout (a count, or a percentage such as 10%):
      [--rollout-max-concurrency N] [--rollout-max-errors N] [--rollout-health-check-seconds N]`;

type RequestOutcome =
  | { outcome: 'STARTED'; taskId: number; status: string }
  | { outcome: 'BATCH_STARTED'; batchId: number; status: string }
  | { outcome: 'REJECTED' | 'SKIPPED'; code: string; reason: string };

type Options = Record<string, string | boolean | undefined>;

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      host: { type: 'string' },
      hosts: { type: 'string' },
      reason: { type: 'string' },
      'requested-by': { type: 'string' },
      'prohibit-rollback': { type: 'boolean' },
      'rollout-max-concurrency': { type: 'string' },
      'rollout-max-errors': { type: 'string' },
      'rollout-health-check-seconds': { type: 'string' },
      wait: { type: 'string', default: String(DEFAULT_WAIT_SECONDS) },
    },
  });
  const waitSeconds = Number(values.wait);
  if (!Number.isFinite(waitSeconds) || waitSeconds <= 0) usage();
  const endpoints = readEndpoints();
  const clientConfig = {
    endpoint: endpoints.awsEndpointUrl,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  };
  if (positionals[0] === 'restart' && (values.host === undefined) !== (values.hosts === undefined)) {
    const target = values.hosts
      ? { hostIds: hostList(values.hosts), ...rolloutOf(values) }
      : { hostId: Number(values.host) };
    const client = new EventBridgeClient(clientConfig);
    const result = await client.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: endpoints.eventBusName,
            Source: RESTART_REQUESTED_EVENT.source,
            DetailType: RESTART_REQUESTED_EVENT.detailType,
            Detail: JSON.stringify({
              ...target,
              reason: values.reason ?? 'requested from the command line',
              ...(values['requested-by'] ? { requestedBy: values['requested-by'] } : {}),
              ...(values['prohibit-rollback'] ? { prohibitRollback: true } : {}),
            }),
          },
        ],
      }),
    );
    const entry = result.Entries?.[0];
    if (result.FailedEntryCount || !entry?.EventId)
      throw new Error(`The bus refused the event: ${entry?.ErrorMessage}`);
    console.log(`event ${entry.EventId} put on ${endpoints.eventBusName}`);
    const outcome = await waitForOutcome(entry.EventId, endpoints, clientConfig, waitSeconds);
    if (!outcome) {
      console.error(
        `no outcome within ${waitSeconds} s: see npm start's output (the trigger may be retrying the event, or it went to the trigger's dead-letter queue)`,
      );
      process.exit(EXIT_NO_OUTCOME);
    }
    if (outcome.outcome === 'BATCH_STARTED') {
      console.log(`batch ${outcome.batchId} started for hosts ${values.hosts}: ${outcome.status}`);
      return;
    }
    if (outcome.outcome !== 'STARTED') {
      console.error(`${outcome.outcome} (${outcome.code}): ${outcome.reason}`);
      process.exit(EXIT_REFUSED);
    }
    console.log(`task ${outcome.taskId} started for host ${values.host}: ${outcome.status}`);
    return;
  }
  if (positionals[0] === 'schedule' && values.hosts) {
    const runId = randomUUID();
    const client = new LambdaClient(clientConfig);
    const result = await client.send(
      new InvokeCommand({
        FunctionName: functionName('restartTrigger'),
        Payload: JSON.stringify(
          scheduledRestartInput(
            // Sent as given: the trigger refuses what is not a host id, and says why.
            hostList(values.hosts) as number[],
            runId,
            'local-schedule',
            values.reason,
            rolloutOf(values).rollout,
          ),
        ),
      }),
    );
    const text = new TextDecoder().decode(result.Payload);
    if (result.FunctionError) throw new Error(`The trigger failed: ${text}`);
    const outcome = JSON.parse(text) as {
      outcome?: string;
      batchId?: number;
      hostCount?: number;
      code?: string;
      reason?: string;
    };
    if (outcome.batchId === undefined) {
      console.error(`${outcome.outcome} (${outcome.code}): ${outcome.reason}`);
      process.exit(EXIT_REFUSED);
    }
    console.log(`batch ${outcome.batchId} started for hosts ${values.hosts} (schedule run ${runId})`);
    return;
  }
  usage();
}

/** `1,2,3` as the hosts' ids; a part that is no number is sent as it is, for the trigger to refuse. */
function hostList(text: string): unknown[] {
  return text.split(',').map((part) => {
    const id = Number(part.trim());
    return part.trim() !== '' && Number.isFinite(id) ? id : part.trim();
  });
}

/** The --rollout-* options as the batch API's rollout (`10%` stays a percentage). */
function rolloutOf(values: Options): { rollout?: RolloutFields } {
  const limit = (value: string) => (value.trim().endsWith('%') ? value.trim() : Number(value));
  const concurrency = values['rollout-max-concurrency'];
  const errors = values['rollout-max-errors'];
  const healthCheck = values['rollout-health-check-seconds'];
  const rollout: RolloutFields = {
    ...(typeof concurrency === 'string' ? { maxConcurrency: limit(concurrency) } : {}),
    ...(typeof errors === 'string' ? { maxErrors: limit(errors) } : {}),
    ...(typeof healthCheck === 'string' ? { healthCheckSeconds: Number(healthCheck) } : {}),
  };
  return Object.keys(rollout).length > 0 ? { rollout } : {};
}

function usage(): never {
  console.error(USAGE);
  process.exit(EXIT_USAGE);
}

/**
 * Waits for what became of the restart event: the task or batch it created (its idempotency key names it), or
 * the "Restart Rejected" event naming it, which local mode routes to a queue as a subscriber would.
 */
async function waitForOutcome(
  eventId: string,
  endpoints: LocalEndpoints,
  clientConfig: { region: string; credentials: { accessKeyId: string; secretAccessKey: string } },
  waitSeconds: number,
): Promise<RequestOutcome | undefined> {
  const dynamodb = new DynamoDBClient({ ...clientConfig, endpoint: endpoints.dynamodbEndpoint });
  const sqs = new SQSClient({ ...clientConfig, endpoint: endpoints.awsEndpointUrl });
  const deadline = Date.now() + waitSeconds * 1000;
  try {
    for (;;) {
      const outcome =
        (await startedTask(dynamodb, endpoints.taskTable, eventId)) ??
        (await rejection(sqs, endpoints.rejectionEventsQueueUrl, eventId));
      if (outcome) return outcome;
      if (Date.now() >= deadline) return undefined;
      await sleep(POLL_MS);
    }
  } finally {
    dynamodb.destroy();
    sqs.destroy();
  }
}

async function startedTask(
  dynamodb: DynamoDBClient,
  tableName: string,
  eventId: string,
): Promise<RequestOutcome | undefined> {
  const read = async (key: Record<string, string>) =>
    (
      await dynamodb.send(
        new GetItemCommand({ TableName: tableName, Key: marshall(key), ConsistentRead: true }),
      )
    ).Item;
  const request = await read(requestKey(restartEventKey(eventId)));
  if (!request) return undefined;
  const { taskId, batchId } = unmarshall(request) as { taskId?: number; batchId?: number };
  // Absent when its execution could not start: the trigger removed it and the event is retried.
  if (batchId !== undefined) {
    const batch = await read(batchKey(Number(batchId)));
    return batch
      ? { outcome: 'BATCH_STARTED', batchId: Number(batchId), status: String(unmarshall(batch).status) }
      : undefined;
  }
  const task = await read(taskKey(Number(taskId)));
  return task
    ? { outcome: 'STARTED', taskId: Number(taskId), status: String(unmarshall(task).status) }
    : undefined;
}

async function rejection(
  sqs: SQSClient,
  queueUrl: string,
  eventId: string,
): Promise<RequestOutcome | undefined> {
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: PEEK_VISIBILITY_SECONDS,
      }),
    );
    if (Messages.length === 0) return undefined;
    for (const message of Messages) {
      const event = JSON.parse(message.Body ?? '{}') as {
        time?: string;
        detail?: { requestEventId?: string; outcome?: string; code?: string; reason?: string };
      };
      const ours = event.detail?.requestEventId === eventId;
      if (ours || Date.parse(event.time ?? '') < Date.now() - STALE_REJECTION_MS) {
        await sqs.send(
          new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }),
        );
      }
      if (ours) {
        return {
          outcome: event.detail?.outcome === 'SKIPPED' ? 'SKIPPED' : 'REJECTED',
          code: event.detail?.code ?? 'unknown',
          reason: event.detail?.reason ?? 'no reason given',
        };
      }
    }
  }
}

function readEndpoints(): LocalEndpoints {
  try {
    return JSON.parse(readFileSync(join(localStateDir(), ENDPOINTS_FILE), 'utf8'));
  } catch {
    throw new Error('Local mode is not running: start it with `npm start` first.');
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
