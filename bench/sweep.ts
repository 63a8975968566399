import { randomUUID } from 'node:crypto';
import { BatchWriteItemCommand, DeleteTableCommand, paginateScan } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { dynamodb } from '../functions/aws/dynamodb.ts';
import { sfn } from '../functions/aws/sfn.ts';
import { SsmHostCommands } from '../functions/aws/ssm-host-commands.ts';
import { StepFunctionsWorkflow } from '../functions/aws/step-functions-workflow.ts';
import { STATUS_EVENT_GRACE_MS } from '../functions/core/command-outcome.ts';
import { HANDOVER_GRACE_MS } from '../functions/core/execution-sweep.ts';
import { newRestartTask, type TaskRecord } from '../functions/core/task.ts';
import { finishTask } from '../functions/core/task-progress.ts';
import { ocpTimestamp } from '../functions/core/time.ts';
import { TASK_TABLE } from '../functions/store/table-schema.ts';
import { toListEntry, toTaskItem } from '../functions/store/task-item.ts';
import { WorkflowTaskStore } from '../functions/store/workflow-task-store.ts';
import { type SweepResult, sweepRunningTasks } from '../functions/use-cases/sweep-running-tasks.ts';
import { ensureTables } from '../local/tables.ts';
import type { BenchContext } from './context.ts';
import { PRICES } from './cost.ts';
import { BENCH_HOSTS, type BenchSystem } from './local-bench.ts';
import type { Figure, PartResult } from './report.ts';
import { countCalls } from './sdk-counter.ts';
import { machineInfo, median, percentile, round } from './stats.ts';

const RUNNING_TASKS = 10;
const ENDED_TASKS = 100_000;
/** Timed sweeps per round, after one uncounted warm-up. */
const SWEEPS = 20;
/** Tasks written at once while the history is filled. */
const WRITE_CONCURRENCY = 25;
/** BatchWriteItem takes 25 items: a task item and its list entry each. */
const TASKS_PER_BATCH = 12;
const SWEEPS_PER_MONTH = 60 * 24 * 30.44;
const RATIO_BUDGET = 1.5;

interface Round {
  ms: number[];
  /** Of each sweep's time, the time in DynamoDB calls and in Step Functions calls. */
  dynamodbMs: number[];
  stepFunctionsMs: number[];
  readUnits: number;
  /** Of readUnits, those of the GetItems of the running tasks (the sweep read them before too). */
  taskReadUnits: number;
  calls: string;
  /** The RUNNING listing the sweep used before (byCreation, filtered): its read units and time. */
  listing: { readUnits: number; ms: number };
}

type Count = ReturnType<typeof countCalls>['count'];

/** One sweep of a table, with the DynamoDB calls and read units it made. */
async function countedSweep(
  store: WorkflowTaskStore,
  outputLogGroup: string,
): Promise<{ ms: number; count: Count; stepFunctions: Count }> {
  const counter = countCalls(dynamodb, 'sweep');
  const stepFunctions = countCalls(sfn, 'sweep');
  const started = performance.now();
  let result: SweepResult;
  try {
    result = await sweepRunningTasks(store, {
      handoversSettledBefore: new Date(Date.now() - HANDOVER_GRACE_MS),
      statusEventsDueBefore: new Date(Date.now() - STATUS_EVENT_GRACE_MS),
      outputLogGroup,
      workflow: new StepFunctionsWorkflow(),
      hostCommands: new SsmHostCommands(),
    });
  } finally {
    counter.stop();
    stepFunctions.stop();
  }
  const ms = performance.now() - started;
  if (result.failed.length || result.fixed.length || result.released.length)
    throw new Error(`The sweep changed or failed tasks: ${JSON.stringify(result)}`);
  return { ms, count: counter.count, stepFunctions: stepFunctions.count };
}

/**
 * What the sweep read before to find the running tasks: the RUNNING listing as it was then, every task's
 * list entry read and filtered on read (today's listing answers from counters, so it is not used here).
 */
async function countedListing(store: WorkflowTaskStore): Promise<Round['listing']> {
  const counter = countCalls(dynamodb, 'listing');
  const started = performance.now();
  try {
    const pages = paginateScan(
      { client: dynamodb },
      {
        TableName: store.tableName,
        IndexName: TASK_TABLE.byCreationIndex.name,
        FilterExpression: '#status = :running',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':running': { S: 'RUNNING' } },
      },
    );
    for await (const _page of pages) {
      // Every page is read, as the old listing did.
    }
  } finally {
    counter.stop();
  }
  return { readUnits: counter.count.readUnits, ms: performance.now() - started };
}

const callsMs = (count: Count) => [...count.ms.values()].reduce((total, ms) => total + ms, 0);

function summary(
  sweeps: { ms: number; count: Count; stepFunctions: Count }[],
  listing: Round['listing'],
): Round {
  // The fewest units: local mode's own minute sweep shares the client and may overlap one run.
  const least = sweeps.reduce((a, b) => (b.count.readUnits < a.count.readUnits ? b : a)).count;
  return {
    ms: sweeps.map((sweep) => sweep.ms),
    dynamodbMs: sweeps.map((sweep) => callsMs(sweep.count)),
    stepFunctionsMs: sweeps.map((sweep) => callsMs(sweep.stepFunctions)),
    readUnits: least.readUnits,
    taskReadUnits: least.units.get('GetItemCommand') ?? 0,
    calls: [...least.calls]
      .map(([operation, count]) => `${operation.replace(/Command$/, '')} ${count}`)
      .join(', '),
    listing,
  };
}

/** A finished restart's record, from one real restart in local mode: the history is copies of it. */
async function finishedRestart(bench: BenchSystem): Promise<TaskRecord> {
  const { status, body } = await bench.restart(BENCH_HOSTS);
  if (status !== 200 || !body.data) throw new Error(`Restart of host ${BENCH_HOSTS} answered ${status}`);
  await bench.waitForEnd([body.data.id], 60_000);
  const task = await new WorkflowTaskStore(bench.system.tables.taskTable).getTask(body.data.id);
  if (task?.status !== 'SUCCESSFUL') throw new Error(`Task ${body.data.id} ended ${task?.status}`);
  return task;
}

export async function run(context: BenchContext): Promise<PartResult> {
  const started = Date.now();
  const machine = machineInfo();
  const bench = await context.localSystem();
  const outputLogGroup = '/ocp/command-output';
  const template = await finishedRestart(bench);
  // Tables of their own in local mode's DynamoDB Local: exactly the history each is given, whatever
  // other parts ran before. Swept in turn, so that both see the same machine load.
  const suffix = randomUUID().slice(0, 8);
  const tables = (name: string) => ({
    taskTable: `bench-sweep-${name}-tasks-${suffix}`,
    hostTable: `bench-sweep-${name}-hosts-${suffix}`,
  });
  const names = { empty: tables('empty'), full: tables('full') };
  const executionPrefix = bench.system.stateMachineArn.replace(':stateMachine:', ':execution:');
  const newTask = async (store: WorkflowTaskStore, hostId: number, finished = false): Promise<TaskRecord> => {
    const firstId = await store.allocateIds(6);
    const task = newRestartTask({
      firstId,
      hostId,
      creator: 'bench',
      type: 'MANUAL',
      prohibitRollback: false,
      executionArn: `${executionPrefix}:bench-sweep-${suffix}-${firstId}`,
      now: new Date(),
    });
    // A copy of the real restart's attempts (times), so as large a record.
    const record = finished
      ? {
          ...task,
          subtasks: task.subtasks.map((subtask, i) => {
            const { status, runTime, startTime, endTime } = template.subtasks[i]!;
            return { ...subtask, status, runTime, startTime, endTime };
          }),
        }
      : task;
    await store.createTask(record);
    if (finished) {
      const ended = finishTask(record, {
        status: 'SUCCESSFUL',
        endTime: template.endTime ?? ocpTimestamp(new Date()),
      });
      await store.save(record, ended!.task);
    }
    return record;
  };

  let empty: Round;
  let full: Round;
  let fillSeconds: number;
  let endedItemBytes: number;
  try {
    const stores = {
      empty: new WorkflowTaskStore(names.empty.taskTable),
      full: new WorkflowTaskStore(names.full.taskTable),
    };
    for (const which of ['empty', 'full'] as const) {
      await ensureTables(dynamodb, names[which]);
      for (let hostId = 1; hostId <= RUNNING_TASKS; hostId++) await newTask(stores[which], hostId);
    }
    context.log(`sweep: writing ${ENDED_TASKS.toLocaleString('en-US')} ended tasks`);
    const fillStarted = Date.now();
    // A few through the store's own transactions, the rest written as those leave them (the task
    // item and its list entry, no lock), in batches: the history only has to be there, and 100,000
    // tasks through two transactions each would take an hour on DynamoDB Local.
    let lastEnded: TaskRecord | undefined;
    for (let i = 0; i < WRITE_CONCURRENCY; i++) lastEnded = await newTask(stores.full, 1_000 + i, true);
    const endedItems = (await stores.full.getTask(lastEnded!.id))!;
    const firstId = await stores.full.allocateIds(6 * ENDED_TASKS);
    const writes: Promise<unknown>[] = [];
    for (let i = WRITE_CONCURRENCY; i < ENDED_TASKS; i += TASKS_PER_BATCH) {
      const batch = Array.from({ length: Math.min(TASKS_PER_BATCH, ENDED_TASKS - i) }, (_, j) => {
        const id = firstId + 6 * (i + j);
        return {
          ...endedItems,
          id,
          hostId: 1_000 + i + j,
          executor: `${executionPrefix}:bench-sweep-${suffix}-${id}`,
          subtasks: endedItems.subtasks.map((subtask, k) => ({ ...subtask, id: id + 1 + k })),
        };
      });
      writes.push(
        writeBatch(
          names.full.taskTable,
          batch.flatMap((task) => [toTaskItem(task), toListEntry(task)]),
        ),
      );
      if (writes.length >= WRITE_CONCURRENCY) await Promise.all(writes.splice(0));
    }
    await Promise.all(writes);
    fillSeconds = (Date.now() - fillStarted) / 1000;
    endedItemBytes = JSON.stringify(await stores.full.getTask(lastEnded!.id)).length;

    context.log(`sweep: ${SWEEPS} sweeps of each table, in turn`);
    await countedSweep(stores.empty, outputLogGroup);
    await countedSweep(stores.full, outputLogGroup);
    const sweeps: Record<'empty' | 'full', Awaited<ReturnType<typeof countedSweep>>[]> = {
      empty: [],
      full: [],
    };
    for (let i = 0; i < SWEEPS; i++) {
      const order = i % 2 === 0 ? (['empty', 'full'] as const) : (['full', 'empty'] as const);
      for (const which of order) sweeps[which].push(await countedSweep(stores[which], outputLogGroup));
    }
    empty = summary(sweeps.empty, await countedListing(stores.empty));
    full = summary(sweeps.full, await countedListing(stores.full));
  } finally {
    for (const { taskTable, hostTable } of Object.values(names))
      for (const TableName of [taskTable, hostTable])
        await dynamodb.send(new DeleteTableCommand({ TableName })).catch(() => undefined);
  }

  const ended = ENDED_TASKS.toLocaleString('en-US');
  const monthly = (readUnits: number) => round(readUnits * SWEEPS_PER_MONTH * PRICES.dynamodbPerReadUnit, 3);
  const before = (measured: Round) => round(measured.listing.readUnits + measured.taskReadUnits, 1);
  const figures: Figure[] = [
    { name: `sweep time p50, ${RUNNING_TASKS} running, 0 ended`, value: round(median(empty.ms)), unit: 'ms' },
    {
      name: `sweep time p50, ${RUNNING_TASKS} running, ${ended} ended`,
      value: round(median(full.ms)),
      unit: 'ms',
    },
    {
      name: `sweep time p50, ${ended} ended ÷ 0 ended`,
      value: round(median(full.ms) / median(empty.ms), 2),
      unit: '×',
      budget: { max: RATIO_BUDGET },
    },
    { name: `sweep read units, ${RUNNING_TASKS} running, 0 ended`, value: empty.readUnits, unit: 'RRU' },
    {
      name: `sweep read units, ${RUNNING_TASKS} running, ${ended} ended`,
      value: full.readUnits,
      unit: 'RRU',
    },
    {
      name: `before: sweep read units, ${RUNNING_TASKS} running, 0 ended`,
      value: before(empty),
      unit: 'RRU',
    },
    {
      name: `before: sweep read units, ${RUNNING_TASKS} running, ${ended} ended`,
      value: before(full),
      unit: 'RRU',
    },
    {
      name: `sweep reads per month (every minute), ${ended} ended`,
      value: monthly(full.readUnits),
      unit: '$',
    },
    {
      name: `before: sweep reads per month, ${ended} ended`,
      value: monthly(before(full)),
      unit: '$',
    },
  ];
  const row = (label: string, measured: Round) =>
    `| ${label} | ${round(median(measured.ms))} / ${round(percentile(measured.ms, 95))} | ${round(median(measured.dynamodbMs))} / ${round(median(measured.stepFunctionsMs))} | ${measured.readUnits} | ${measured.calls} | ${round(measured.listing.readUnits, 1)} RRU in ${round(measured.listing.ms)} ms |`;

  return {
    id: 'sweep',
    title: 'Sweep: running tasks against the history',
    command: context.command,
    machine,
    seconds: (Date.now() - started) / 1000,
    figures,
    method: `
The sweep (functions/use-cases/sweep-running-tasks.ts, what the scheduled sweep-tasks function runs every
minute) runs in local mode against two task tables of its own in local mode's DynamoDB Local, each holding
${RUNNING_TASKS} RUNNING tasks written by the store (createTask: task and host lock in one transaction); one
holds nothing else, the other ${ended} ended tasks too (${round(fillSeconds)} s to write): the first
${WRITE_CONCURRENCY} created and finished by the store as copies of a restart that really ran in local mode just before
(its subtasks' times: ${round(endedItemBytes / 1024, 1)} KB of JSON per task), the rest written with BatchWriteItem as
those transactions leave a task (its task item and its list entry, no lock). Each running task names an
execution that has not started (as in the instant between a restart's task write and its
StartExecution), so for each the sweep reads the task, asks the local Step Functions endpoint about its
execution and leaves it: it changes nothing. After one uncounted sweep of each table, the two tables
are swept in turn, ${SWEEPS} times each, so that both see the same machine load; the time is the use
case's wall time (p50).

**Read units** are DynamoDB Local's ConsumedCapacity (\`ReturnConsumedCapacity: TOTAL\`) of the sweep's
calls, counted by an SDK middleware on the handlers' client (bench/sdk-counter.ts): a Scan of the sparse
\`hostLocks\` index (the lock items alone; eventually consistent, half a unit per 4 KB read) and one
consistent GetItem per running task. **Before** is what the sweep read until now: the same GetItems
plus every page of the \`RUNNING\` listing as it was (every task's entry in \`byCreation\` read, filtered on
status), measured on the same tables.

**Where the time goes**: the sweep makes the same calls and reads the same ${full.readUnits} units with ${ended}
ended tasks as with none (the Scan reads the sparse index's ${RUNNING_TASKS} lock items alone). Almost all of its
time is in those DynamoDB calls (the column "of it in DynamoDB / Step Functions calls"), and what grows
is DynamoDB Local's time per call on a larger in-memory table, not the work: on AWS a Scan of an index
reads only that index's items, so the figure that carries over is the read units. On a machine that
other work loads (load average in the header) the times grow; the ratio is the figure to read. A month is ${Math.round(SWEEPS_PER_MONTH).toLocaleString('en-US')} sweeps
(one a minute), at $${PRICES.dynamodbPerReadUnit * 1_000_000} per million read request units (on demand,
us-east-1, ${PRICES.asOf}). A running subtask's command (one GetCommandInvocation, when its execution
runs) is per running task too, and is not exercised here.
`,
    details: [
      `| table | sweep ms p50 / p95 | of it in DynamoDB / Step Functions calls, ms p50 | sweep read units | sweep DynamoDB calls | RUNNING listing (before) |
| --- | --- | --- | --- | --- | --- |
${row(`${RUNNING_TASKS} running, 0 ended`, empty)}
${row(`${RUNNING_TASKS} running, ${ended} ended`, full)}`,
    ],
  };
}

/** Writes items with BatchWriteItem, again for those DynamoDB leaves unprocessed. */
async function writeBatch(tableName: string, items: object[]): Promise<void> {
  let requests = items.map((item) => ({
    PutRequest: { Item: marshall(item, { removeUndefinedValues: true }) },
  }));
  while (requests.length > 0) {
    const result = await dynamodb.send(
      new BatchWriteItemCommand({ RequestItems: { [tableName]: requests } }),
    );
    requests = (result.UnprocessedItems?.[tableName] ?? []) as typeof requests;
  }
}
