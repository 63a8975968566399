import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetExecutionHistoryCommand, type HistoryEvent, SFNClient } from '@aws-sdk/client-sfn';
import { dynamodb } from '../functions/aws/dynamodb.ts';
import { eventbridge } from '../functions/aws/eventbridge.ts';
import { ssm } from '../functions/aws/ssm.ts';
import { ENV, LAMBDA_FUNCTIONS, type LambdaFunctionId } from '../functions/catalog.ts';
import { commandFinishedPattern, executionEndedPattern } from '../functions/core/event-patterns.ts';
import type { BenchContext } from './context.ts';
import type { Figure, PartResult } from './report.ts';
import { countCalls } from './sdk-counter.ts';
import { machineInfo, round, sum } from './stats.ts';

const REPO = join(__dirname, '..');
const RESTARTS = 10;
/** The cost run restarts hosts from here on, away from the hosts the single-restart timings use. */
const BENCH_HOST_OFFSET = 101;
const TRANSITION_BUDGET = 20;
/** Issue 11: at most 60 write units per successful restart, and $0.20 per 1,000 restarts. */
const WRITE_UNITS_BUDGET = 60;
const COST_BUDGET_PER_1000 = 0.2;

/** Public list prices, us-east-1, as AWS's pricing pages gave them on PRICES.asOf. */
export const PRICES = {
  asOf: '2026-11-26',
  stepFunctionsPerTransition: 0.025 / 1_000,
  lambdaPerRequest: 0.2 / 1_000_000,
  lambdaArmPerGbSecond: 0.0000133334,
  dynamodbPerWriteUnit: 0.625 / 1_000_000,
  dynamodbPerReadUnit: 0.125 / 1_000_000,
  eventBridgeCustomPerEvent: 1 / 1_000_000,
  logsIngestionPerGb: 0.5,
  ssmAdvancedOnPremInstanceHour: 0.00695,
} as const;

/** Billed duration assumed for every invocation (local handler times are 5-40 ms; AWS adds its latency). */
const ASSUMED_BILLED_SECONDS = 0.1;
/** CloudWatch Logs per invocation: START/END/REPORT lines and one or two JSON log lines. */
const ASSUMED_LOG_BYTES_PER_INVOCATION = 1_000;
/** The comparison's scripts, in seconds, and its poll interval. */
const POLLING_SCRIPT_SECONDS = [2, 2, 10, 10, 2];
const POLL_SECONDS = 5;

type AslState = {
  Type: string;
  Next?: string;
  End?: boolean;
  Default?: string;
  Choices?: (AslRule & { Next: string })[];
  Parameters?: { FunctionName?: string };
  Resource?: string;
};
type AslRule = {
  Variable?: string;
  IsPresent?: boolean;
  StringEquals?: string;
  And?: AslRule[];
  Or?: AslRule[];
  Not?: AslRule;
};

/** Enough of Choice rules for this definition: IsPresent, StringEquals, And, Or, Not on `$.field`. */
function matches(rule: AslRule, input: Record<string, unknown>): boolean {
  if (rule.And) return rule.And.every((inner) => matches(inner, input));
  if (rule.Or) return rule.Or.some((inner) => matches(inner, input));
  if (rule.Not) return !matches(rule.Not, input);
  const value = input[(rule.Variable ?? '').replace(/^\$\./, '')];
  if (rule.IsPresent !== undefined) return (value !== undefined) === rule.IsPresent;
  if (rule.StringEquals !== undefined) return value === rule.StringEquals;
  throw new Error(`Unsupported Choice rule ${JSON.stringify(rule)}`);
}

/** The states a successful restart enters, walking the deployed definition with a restart's input. */
function successfulPath(): { states: string[]; lambdaStates: { state: string; functionId: string }[] } {
  const definition = JSON.parse(
    readFileSync(join(REPO, 'statemachine', 'restart-agent.asl.json'), 'utf8'),
  ) as { StartAt: string; States: Record<string, AslState> };
  const input = { taskId: 1, hostId: 1, instanceId: 'mi-0', agentHome: '/opt' };
  const placeholders = new Map(
    (Object.keys(LAMBDA_FUNCTIONS) as LambdaFunctionId[]).flatMap((id) => {
      const placeholder = (LAMBDA_FUNCTIONS[id] as { aslPlaceholder?: string }).aslPlaceholder;
      return placeholder ? [[`\${${placeholder}}` as string, id] as const] : [];
    }),
  );
  const states: string[] = [];
  const lambdaStates: { state: string; functionId: string }[] = [];
  let name: string | undefined = definition.StartAt;
  while (name) {
    if (states.length > 100) throw new Error('The successful path does not end');
    const state: AslState = definition.States[name]!;
    states.push(name);
    if (state.Resource?.includes(':lambda:invoke')) {
      lambdaStates.push({
        state: name,
        functionId: placeholders.get(state.Parameters?.FunctionName ?? '') ?? 'unknown',
      });
    }
    if (state.Type === 'Choice') {
      name = state.Choices?.find((choice) => matches(choice, input))?.Next ?? state.Default;
    } else {
      name = state.End || state.Type === 'Succeed' ? undefined : state.Next;
    }
  }
  return { states, lambdaStates };
}

/** Memory of each function as infra/ configures it (ProjectFunction's default unless a construct sets it). */
function configuredMemory(): { memory: Record<string, number>; note: string } {
  const dir = join(REPO, 'infra', 'constructs');
  const files = readdirSync(dir).map((file) => readFileSync(join(dir, file), 'utf8'));
  const defaults = files.join('\n').match(/memorySize:\s*props\.memorySize\s*\?\?\s*(\d+)/);
  const fallback = defaults ? Number(defaults[1]) : 256;
  const memory: Record<string, number> = {};
  for (const id of Object.keys(LAMBDA_FUNCTIONS)) {
    const props = files.join('\n').match(new RegExp(`functionId:\\s*'${id}'([^}]*)}`));
    const own = props?.[1]?.match(/memorySize:\s*(\d+)/);
    memory[id] = own ? Number(own[1]) : fallback;
  }
  const note = defaults
    ? `read from infra/constructs (ProjectFunction's default ${fallback} MB unless a construct sets memorySize)`
    : 'infra/constructs sets no default memory size: 256 MB assumed';
  return { memory, note };
}

interface Usage {
  transitions: number;
  invocations: Record<string, number>;
  readUnits: number;
  writeUnits: number;
  customEvents: number;
  ssmCommands: number;
  commandPolls: number;
}

function costOf(usage: Usage, memory: Record<string, number>) {
  const invocations = sum(Object.values(usage.invocations));
  const gbSeconds = sum(
    Object.entries(usage.invocations).map(
      ([id, count]) => count * ASSUMED_BILLED_SECONDS * ((memory[id] ?? 256) / 1024),
    ),
  );
  const lines = {
    'Step Functions state transitions': usage.transitions * PRICES.stepFunctionsPerTransition,
    'Lambda requests': invocations * PRICES.lambdaPerRequest,
    'Lambda compute (arm64 GB-s)': gbSeconds * PRICES.lambdaArmPerGbSecond,
    'DynamoDB write request units': usage.writeUnits * PRICES.dynamodbPerWriteUnit,
    'DynamoDB read request units': usage.readUnits * PRICES.dynamodbPerReadUnit,
    'EventBridge custom events': usage.customEvents * PRICES.eventBridgeCustomPerEvent,
    'CloudWatch Logs ingestion':
      (invocations * ASSUMED_LOG_BYTES_PER_INVOCATION * PRICES.logsIngestionPerGb) / 2 ** 30,
    'SSM Run Command (managed EC2 instances)': 0,
  };
  return { lines, total: sum(Object.values(lines)), gbSeconds, invocations };
}

const pollsFor = (seconds: number) => Math.floor(seconds / POLL_SECONDS) + 1;

export async function run(context: BenchContext): Promise<PartResult> {
  const started = Date.now();
  const machine = machineInfo();
  const path = successfulPath();
  const { memory, note: memoryNote } = configuredMemory();
  const bench = await context.localSystem();
  const { system } = bench;

  // Quiet start: nothing in flight, so that every count below belongs to these restarts.
  await system.drainStream();
  await system.eventBridge.idle();
  const counters = {
    dynamodb: countCalls(dynamodb, 'dynamodb'),
    eventbridge: countCalls(eventbridge, 'eventbridge'),
    ssm: countCalls(ssm, 'ssm'),
  };
  const ruleHits = { commandCallback: 0, reconcileExecution: 0 };
  const documents = Object.entries(
    JSON.parse(process.env[ENV.commandDocuments] ?? '{}') as Record<string, string>,
  )
    .filter(([key]) => key !== 'agentStatus')
    .map(([, name]) => name);
  const removeRules = [
    system.eventBridge.addRule({
      name: 'bench-count-command-finished',
      pattern: commandFinishedPattern(documents),
      target: async () => {
        ruleHits.commandCallback++;
      },
    }),
    system.eventBridge.addRule({
      name: 'bench-count-execution-ended',
      pattern: executionEndedPattern(system.stateMachineArn),
      target: async () => {
        ruleHits.reconcileExecution++;
      },
    }),
  ];
  const streamBefore = { ...bench.stream };
  let histories: HistoryEvent[][];
  let taskItemBytes = 0;
  try {
    context.log(`cost: ${RESTARTS} restarts with their calls counted`);
    const answers = await Promise.all(
      Array.from({ length: RESTARTS }, (_, i) => bench.restart(BENCH_HOST_OFFSET + i)),
    );
    const executions = answers.map((answer) => {
      if (answer.status !== 200 || !answer.body.data) throw new Error(`Restart refused: ${answer.status}`);
      return answer.body.data;
    });
    await bench.waitForEnd(executions.map((task) => task.id));
    await system.eventBridge.idle();
    await system.drainStream();
    await system.eventBridge.idle();
    const sfn = new SFNClient({});
    histories = await Promise.all(
      executions.map(async (task) => {
        const events: HistoryEvent[] = [];
        let nextToken: string | undefined;
        do {
          const page = await sfn.send(
            new GetExecutionHistoryCommand({ executionArn: task.executor, nextToken, maxResults: 1000 }),
          );
          events.push(...(page.events ?? []));
          nextToken = page.nextToken;
        } while (nextToken);
        return events;
      }),
    );
    sfn.destroy();
    const ids = new Set(executions.map((task) => task.id));
    const items = (await bench.scanTaskTable()).filter(
      (item) => item.sk === 'TASK' && ids.has(Number(item.id)),
    );
    taskItemBytes = sum(items.map((item) => JSON.stringify(item).length)) / items.length;
  } finally {
    for (const counter of Object.values(counters)) counter.stop();
    for (const remove of removeRules) remove();
  }

  const perRestart = (value: number) => value / RESTARTS;
  const ddb = counters.dynamodb.count;
  if (sum([...ddb.calls.values()]) === 0) {
    throw new Error('No DynamoDB call was counted: the handlers do not share the counted client');
  }
  const entered = histories.map(
    (events) => events.filter((event) => event.type?.endsWith('StateEntered')).length,
  );
  const lambdaTasks = histories.map(
    (events) =>
      events.filter(
        (event) =>
          event.type === 'LambdaFunctionScheduled' ||
          (event.type === 'TaskScheduled' && event.taskScheduledEventDetails?.resourceType === 'lambda'),
      ).length,
  );
  const byFunction: Record<string, number> = { api: 1 };
  for (const { functionId } of path.lambdaStates) byFunction[functionId] = (byFunction[functionId] ?? 0) + 1;
  const measured: Usage = {
    transitions: perRestart(sum(entered)),
    invocations: {
      ...byFunction,
      commandCallback: perRestart(ruleHits.commandCallback),
      reconcileExecution: perRestart(ruleHits.reconcileExecution),
      // Upper bound: one invocation per task-item record (restarts far apart never share a batch).
      publishTaskEvents: perRestart(bench.stream.taskRecords - streamBefore.taskRecords),
    },
    readUnits: perRestart(ddb.readUnits),
    writeUnits: perRestart(ddb.writeUnits),
    customEvents: perRestart(counters.eventbridge.count.putEventsEntries),
    ssmCommands: perRestart(counters.ssm.count.calls.get('SendCommandCommand') ?? 0),
    commandPolls: 0,
  };
  const workflowLambdas = perRestart(sum(lambdaTasks));
  if (workflowLambdas !== path.lambdaStates.length) {
    throw new Error(
      `The runs invoked ${workflowLambdas} workflow Lambdas, the definition walk ${path.lambdaStates.length}`,
    );
  }
  const polls = POLLING_SCRIPT_SECONDS.map(pollsFor);
  // The usual polling design: per subtask a Task that records the start and sends the command, then
  // Wait 5 s → GetCommandInvocation (SDK integration) → Choice until done, then a Task recording the
  // outcome; the same records, so the same DynamoDB use and as many Lambda invocations.
  const polling: Usage = {
    ...measured,
    transitions: 2 + sum(polls.map((count) => 2 + 3 * count)),
    invocations: {
      ...measured.invocations,
      commandCallback: 0,
      recordOutcome: measured.invocations.commandCallback ?? 0,
    },
    commandPolls: sum(polls),
  };
  const ours = costOf(measured, memory);
  const stepFunctionsPerRestart = ours.lines['Step Functions state transitions'];
  const theirs = costOf(polling, memory);
  const per1000 = (value: number) => value * 1_000;
  const pollingWall = sum(polls.map((count) => count * POLL_SECONDS));
  const scriptsWall = sum(POLLING_SCRIPT_SECONDS);

  const figures: Figure[] = [
    {
      name: 'state transitions per successful restart (definition walk)',
      value: path.states.length,
      unit: '',
      budget: { max: TRANSITION_BUDGET },
    },
    { name: 'state transitions per restart (execution histories)', value: measured.transitions, unit: '' },
    { name: 'Lambda invocations per restart', value: round(ours.invocations, 1), unit: '' },
    {
      name: 'DynamoDB write request units per restart',
      value: round(measured.writeUnits, 1),
      unit: '',
      budget: { max: WRITE_UNITS_BUDGET },
    },
    {
      name: 'DynamoDB write request units per restart, transactions as DynamoDB Local reports them',
      value: round(
        measured.writeUnits -
          perRestart(ddb.units.get('TransactWriteItemsCommand') ?? 0) +
          perRestart(ddb.localTransactionUnits),
        1,
      ),
      unit: '',
    },
    { name: 'DynamoDB read request units per restart', value: round(measured.readUnits, 1), unit: '' },
    {
      name: 'cost per 1,000 restarts (event-driven)',
      value: round(per1000(ours.total), 3),
      unit: '$',
      budget: { max: COST_BUDGET_PER_1000 },
    },
    { name: 'before (commit 011e252): DynamoDB write request units per restart', value: 251, unit: '' },
    { name: 'before (commit 011e252): cost per 1,000 restarts (event-driven)', value: 0.38, unit: '$' },
    {
      name: `cost per 1,000 restarts (${POLL_SECONDS} s polling)`,
      value: round(per1000(theirs.total), 3),
      unit: '$',
    },
  ];
  const money = (value: number) => `$${per1000(value).toFixed(4)}`;
  const costRows = Object.keys(ours.lines).map(
    (line) =>
      `| ${line} | ${money(ours.lines[line as keyof typeof ours.lines])} | ${money(theirs.lines[line as keyof typeof theirs.lines])} |`,
  );
  const invocationRows = Object.entries(measured.invocations).map(
    ([id, count]) => `| ${id} | ${round(count, 2)} | ${memory[id] ?? 256} MB |`,
  );
  const dynamodbCalls = [...ddb.calls]
    .sort((a, b) => b[1] - a[1])
    .map(
      ([operation, count]) =>
        `${operation.replace(/Command$/, '')} ${round(perRestart(count), 1)} (${round(perRestart(ddb.units.get(operation) ?? 0), 1)} units)`,
    )
    .join(', ');

  return {
    id: 'cost',
    title: 'Cost on AWS per 1,000 restarts',
    command: context.command,
    machine,
    seconds: (Date.now() - started) / 1000,
    figures,
    method: `
**State transitions** are counted by walking the deployed definition (statemachine/restart-agent.asl.json)
with a restart's input: ${path.states.map((state) => `"${state}"`).join(' → ')} — ${path.states.length}
transitions (Step Functions bills one per state entered, retries included; a successful run retries
nothing). The ${RESTARTS} restarts run below confirm it: their execution histories hold
${measured.transitions} state-entered events each on average.

**Everything else is counted while ${RESTARTS} restarts run in local mode** (demo hosts in fast mode), by
the product's own code: a small SDK middleware on the handlers' module-scope clients (functions/aws/*)
counts each call, asks DynamoDB for \`ReturnConsumedCapacity: TOTAL\` and sums the units DynamoDB Local
reports for single writes and reads (they follow AWS's rule: a 1 KB Put of a task's list entry, in two
indexes, is 3 units); transactions are counted by AWS's published rule instead (bench/sdk-counter.ts:
2 units per KB of each item, again for each index it is written to), as DynamoDB Local reports 4 units
for a one-item transaction of 50 bytes — its own figure is the row "as DynamoDB Local reports them", an
upper bound. A refused conditional write counts 1 unit.
two extra local EventBridge rules with the stack's own patterns count the events that invoke the command
callback and the execution reconciler; the execution histories count the workflow's Lambda invocations;
the status publisher is counted as invoked once per stream record of a task item (an upper bound: the
stack's event source mapping takes batches of up to 100 records; the ${RESTARTS} restarts here needed
${bench.stream.batches - streamBefore.batches} batches in all). DynamoDB calls per
restart: ${dynamodbCalls}.

**Prices** (us-east-1, public list prices as of ${PRICES.asOf}, from AWS's pricing pages): Step Functions
Standard $0.025 per 1,000 state transitions; Lambda arm64 $0.20 per million requests and
$0.0000133334 per GB-second; DynamoDB on-demand $0.625 per million write request units and $0.125 per
million read request units; EventBridge custom events $1.00 per million (AWS service events — SSM's
command status changes and Step Functions' execution status changes on the default bus — are free);
CloudWatch Logs ingestion $0.50 per GB. SSM Run Command has no charge on managed EC2 instances and on
standard on-premises (hybrid) instances; more than 1,000 on-premises servers per account and Region need
the advanced-instances tier, $${PRICES.ssmAdvancedOnPremInstanceHour} per instance-hour — a fleet cost
whatever the restarts, not a per-restart one. Free tiers are ignored.

**Assumptions**: every invocation billed ${ASSUMED_BILLED_SECONDS * 1000} ms (the handlers make 1–4 AWS calls; local
handler times are a few tens of ms), at the memory ${memoryNote}; ${ASSUMED_LOG_BYTES_PER_INVOCATION} bytes of logs per
invocation. The scheduled sweep function runs on its schedule, not per restart, and is left out.

**The polling design** compared: the same five scripts taking ${POLLING_SCRIPT_SECONDS.join(', ')} s, each
subtask a Task that records the start and sends the command, then a loop of Wait ${POLL_SECONDS} s →
GetCommandInvocation (SDK integration) → Choice until the command is done, then a Task recording the
outcome: ${polling.transitions} state transitions and ${polling.commandPolls} GetCommandInvocation calls per
restart (a script of d seconds is seen done at the ⌊d/${POLL_SECONDS}⌋+1-th poll). Its records, hence its
DynamoDB use and Lambda count, are taken equal to the event-driven design's. Its subtasks complete on a
${POLL_SECONDS}-second grid: ${pollingWall} s per restart for ${scriptsWall} s of scripts, against ${scriptsWall} s plus
the orchestration overhead (see "Orchestration overhead") for the event-driven design.
`,
    details: [
      `| per 1,000 restarts | event-driven (this product) | ${POLL_SECONDS} s polling |
| --- | --- | --- |
${costRows.join('\n')}
| **total** | **${money(ours.total)}** | **${money(theirs.total)}** |
| state transitions | ${per1000(measured.transitions)} | ${per1000(polling.transitions)} |
| Lambda invocations / GB-s | ${per1000(ours.invocations)} / ${round(per1000(ours.gbSeconds), 1)} | ${per1000(theirs.invocations)} / ${round(per1000(theirs.gbSeconds), 1)} |`,
      `Lambda invocations per restart, as counted:\n\n| function | invocations | memory |\n| --- | --- | --- |\n${invocationRows.join('\n')}`,
      `A finished task item is about ${round(taskItemBytes / 1024, 1)} KB (its JSON; DynamoDB's size rule is close): a write to it costs that many write units, rounded up, twice in a transaction — see the units by operation above. It is in no index: each subtask's progress rewrites it alone (1 unit), while its list entry, in the two listing indexes, is written only with the transactions that start and end the task; attempts' task tokens and commands are small items of their own.`,
      '',
      `**Why the $0.20 budget fails.** Step Functions alone costs ${money(stepFunctionsPerRestart)} per 1,000 restarts: ${path.states.length} state transitions at $0.025 per 1,000, the five subtask states the product is made of plus "Choose operation" and "Record task success". Everything else together is ${money(ours.total - stepFunctionsPerRestart)}. Even a workflow of only the five subtask states ($0.125) plus the rest would exceed $0.20 by the status events (16 custom events, $0.016) and the rest of the Lambda, DynamoDB and log costs; the budget is not reachable without dropping what the product is (a Standard workflow whose states are the subtasks, status events). Proposed: ≤ $0.30 per 1,000 restarts, with DynamoDB ≤ 60 write units per restart (met).`,
      `Other counts per restart: ${round(perRestart(counters.eventbridge.count.calls.get('PutEventsCommand') ?? 0), 1)} PutEvents calls, ${measured.ssmCommands} SSM commands, ${round(measured.customEvents, 1)} custom events on the product's bus (task status changes), ${round(perRestart(ruleHits.commandCallback) + perRestart(ruleHits.reconcileExecution), 1)} AWS service events delivered to the product's rules (free).`,
    ],
  };
}
