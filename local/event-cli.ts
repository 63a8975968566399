import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { RESTART_REQUESTED_EVENT } from '#core/event-patterns';
import { scheduledRestartInput } from '#core/scheduled-restart';
import { localStateDir } from './jwt.ts';
import { ENDPOINTS_FILE, functionName } from './local-system.ts';

const USAGE = `Usage (with npm start running):
  npm run event -- restart --host 2 [--reason "agent unhealthy"] [--requested-by monitoring] [--prohibit-rollback]
      puts an "${RESTART_REQUESTED_EVENT.detailType}" event on the product's bus (EventBridge PutEvents)
  npm run event -- schedule --hosts 1,2,3
      runs the restart schedule now, as EventBridge Scheduler would (Lambda Invoke of the trigger function)`;

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      host: { type: 'string' },
      hosts: { type: 'string' },
      reason: { type: 'string' },
      'requested-by': { type: 'string' },
      'prohibit-rollback': { type: 'boolean' },
    },
  });
  const endpoints = readEndpoints();
  const clientConfig = {
    endpoint: endpoints.awsEndpointUrl,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  };
  if (positionals[0] === 'restart' && values.host) {
    const client = new EventBridgeClient(clientConfig);
    const result = await client.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: endpoints.eventBusName,
            Source: RESTART_REQUESTED_EVENT.source,
            DetailType: RESTART_REQUESTED_EVENT.detailType,
            Detail: JSON.stringify({
              hostId: Number(values.host),
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
    return;
  }
  if (positionals[0] === 'schedule' && values.hosts) {
    const hostIds = values.hosts.split(',').map((id) => Number(id.trim()));
    const client = new LambdaClient(clientConfig);
    const result = await client.send(
      new InvokeCommand({
        FunctionName: functionName('restartTrigger'),
        Payload: JSON.stringify(
          scheduledRestartInput(hostIds, randomUUID(), 'local-schedule', values.reason),
        ),
      }),
    );
    const text = new TextDecoder().decode(result.Payload);
    if (result.FunctionError) throw new Error(`The trigger failed: ${text}`);
    console.log(JSON.stringify(JSON.parse(text), null, 2));
    return;
  }
  console.error(USAGE);
  process.exit(2);
}

function readEndpoints(): { awsEndpointUrl: string; eventBusName: string } {
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
