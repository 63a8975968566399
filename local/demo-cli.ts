import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEMO_CONTROL_FILE, type DemoControlAccess, type DemoHostView } from './demo-control.ts';
import { DEMO_MODES } from './demo-hosts.ts';
import { localStateDir } from './jwt.ts';

const EXIT_REFUSED = 1;
const EXIT_USAGE = 2;
const HOST_ID = /^[1-9][0-9]{0,15}$/;

const USAGE = `Usage (with npm start running):
  npm run demo -- hosts
      lists the demo hosts: id, SSM instance id, mode
  npm run demo -- add-host [--id N] [--mode MODE]
      adds a demo host (the next free id unless --id), starts its agent and registers it in the host
      table: it can be restarted at once; local mode brings it back at its next start
  npm run demo -- mode <hostId> <MODE>
      sets a demo host's mode; its running processes follow it at their next signal
  MODE: ${DEMO_MODES.join(', ')} (see local/demo-agent/ocp_agentctl)
Exit codes: 0 done, ${EXIT_REFUSED} refused (the reason is printed), ${EXIT_USAGE} usage.`;

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { id: { type: 'string' }, mode: { type: 'string' } },
  });
  const [command, ...rest] = positionals;
  if (command === 'hosts' && rest.length === 0) {
    const hosts = (await send('GET', '/demo/hosts')) as DemoHostView[];
    for (const host of hosts) console.log(`${host.hostId}\t${host.instanceId}\t${host.mode}`);
    return;
  }
  if (command === 'add-host' && rest.length === 0) {
    if (values.id !== undefined && !HOST_ID.test(values.id)) usage();
    const body = {
      ...(values.id !== undefined ? { hostId: Number(values.id) } : {}),
      ...(values.mode !== undefined ? { mode: values.mode } : {}),
    };
    const host = (await send('POST', '/demo/hosts', body)) as DemoHostView;
    console.log(
      `demo host ${host.hostId} added (${host.instanceId}, mode ${host.mode}) at ${host.agentHome}`,
    );
    return;
  }
  if (command === 'mode' && rest.length === 2 && values.id === undefined && values.mode === undefined) {
    const [hostId, mode] = rest as [string, string];
    if (!HOST_ID.test(hostId)) usage();
    const host = (await send('PUT', `/demo/hosts/${hostId}/mode`, { mode })) as DemoHostView;
    console.log(`demo host ${host.hostId} is now in mode ${host.mode}`);
    return;
  }
  usage();
}

/** One request to the running local mode's demo control; a refusal exits with its reason. */
async function send(method: string, path: string, body?: unknown): Promise<unknown> {
  const access = readAccess();
  let response: Response;
  try {
    response = await fetch(`${access.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${access.secret}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new Error(`Local mode is not running (no answer at ${access.url}): start it with \`npm start\`.`);
  }
  const answer = (await response.json()) as { error?: string };
  if (!response.ok) {
    console.error(answer.error ?? `refused: HTTP ${response.status}`);
    process.exit(EXIT_REFUSED);
  }
  return answer;
}

function readAccess(): DemoControlAccess {
  try {
    return JSON.parse(readFileSync(join(localStateDir(), DEMO_CONTROL_FILE), 'utf8'));
  } catch {
    throw new Error('Local mode is not running: start it with `npm start` first.');
  }
}

function usage(): never {
  console.error(USAGE);
  process.exit(EXIT_USAGE);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(EXIT_REFUSED);
});
