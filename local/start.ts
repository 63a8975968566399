import { killAllDemoHostsSync } from './demo-hosts.ts';
import { localStateDir } from './jwt.ts';
import { startLocalSystem } from './local-system.ts';

/** Ctrl-C, a kill, or the terminal closing (a closing tmux pane or SSH session sends SIGHUP). */
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
let stopping = false;
let stopRequested = false;
// A signal during start-up is honoured once everything that was started can be stopped.
for (const signal of SIGNALS) process.once(signal, () => (stopRequested = true));

async function main(): Promise<void> {
  const startedAt = Date.now();
  const port = Number(process.env.PORT ?? 3000);
  const demoHosts = Math.max(3, Number(process.env.DEMO_HOSTS ?? 3));
  const stateDir = localStateDir();

  console.log(`Starting ocp-agent-restart local mode (state in ${stateDir})…`);
  const system = await startLocalSystem({
    stateDir,
    persist: true,
    apiPort: port,
    demoHosts,
    onTransition: (line) => console.log(line),
    onFunctionLog: (line) => console.log(line),
  });
  process.on('exit', () => killAllDemoHostsSync(system.hostRoot));
  for (const signal of SIGNALS) process.removeAllListeners(signal);

  const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
  console.log(`
  ocp-agent-restart is running locally (ready in ${seconds} s).

    API            ${system.apiUrl}
    web console    ${system.apiUrl}/console  (Sign in locally: one click)
    demo hosts     ${system.hosts
      .map((host) => `${host.hostId} (${host.instanceId})`)
      .slice(0, 5)
      .join(', ')}${system.hosts.length > 5 ? `, … ${system.hosts.length} in all` : ''}
    host folders   ${system.hostRoot}
    AWS endpoints  Step Functions, SSM, EventBridge at ${system.awsEndpointUrl}; DynamoDB Local at ${system.dynamodbEndpoint}

  Get a token, restart host 2's agent and follow the task:

    TOKEN=$(npm run -s token -- --user alice --permissions HOST_MANAGER,HOST_VIEWER,TASK_MANAGER)
    curl -s -X POST -H "Authorization: Bearer $TOKEN" ${system.apiUrl}/compute/hosts/2/agent/restart
    curl -s -H "Authorization: Bearer $TOKEN" ${system.apiUrl}/api/v2/tasks/instances/<id>
    curl -s -H "Authorization: Bearer $TOKEN" ${system.apiUrl}/compute/hosts/2/agent
    npm run event -- restart --host 3 --requested-by monitoring     # a restart from an event
    npm run demo -- add-host                                        # one more demo host
    npm run demo -- mode 3 broken                                   # host 3's restarts now fail

  Task and subtask transitions are printed below. Ctrl-C stops everything.
  `);

  // Demo agents run in sessions of their own: kill them at once, then stop the rest in order.
  const stop = () => {
    if (stopping) return;
    stopping = true;
    killAllDemoHostsSync(system.hostRoot);
    console.log('\nStopping local mode…');
    system.stop().then(
      () => process.exit(0),
      (error) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  for (const signal of SIGNALS) process.on(signal, stop);
  if (stopRequested) stop();
}

main().catch((error) => {
  console.error('Local mode could not start:', error);
  process.exit(1);
});
