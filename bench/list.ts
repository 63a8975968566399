import { randomUUID } from 'node:crypto';
import {
  type AttributeValue,
  BatchWriteItemCommand,
  DeleteTableCommand,
  QueryCommand,
  UpdateItemCommand,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { dynamodb } from '../functions/aws/dynamodb.ts';
import { IDS_PER_TASK } from '../functions/core/subtasks.ts';
import type { TaskRecord } from '../functions/core/task.ts';
import { ocpTimestamp } from '../functions/core/time.ts';
import {
  LIST_BLOCK_IDS,
  LIST_BLOCK_TASKS,
  listPartitionOf,
  TASK_TABLE,
  taskKey,
} from '../functions/store/table-schema.ts';
import { countsOf } from '../functions/store/task-counters.ts';
import { TaskList } from '../functions/store/task-list.ts';
import { TaskStore } from '../functions/store/task-store.ts';
import { ensureTables } from '../local/tables.ts';
import type { BenchContext } from './context.ts';
import { BENCH_HOSTS, type BenchSystem } from './local-bench.ts';
import type { Figure, PartResult } from './report.ts';
import { countCalls } from './sdk-counter.ts';
import { machineInfo, median, percentile, round } from './stats.ts';

/** Tasks in the table at each measurement: the history grows from one to the next. */
const LEVELS = [1_000, 10_000, 100_000] as const;
/** The level at which the listing of before is measured. */
const BEFORE_LEVEL = 10_000;
const MONTHS = 24;
const HOSTS = 1_000;
/** Host ids of the written history: none is a demo host. */
const FIRST_HOST = 10_001;
const PAGE_SIZE = 20;
const DEEP_PAGE = 50;
const WARM_UP_CALLS = 5;
/** Timed calls per page and level, the two pages in turn. */
const TIMED_CALLS = 40;
const BATCH = 25;
const WRITE_CONCURRENCY = 4;
const RATIO_BUDGET = 1.5;
/** byCreation's one partition before the monthly ones: the layout the old listing read. */
const SINGLE_LIST_PARTITION = 'TASK';

interface PageMeasure {
  ms: number[];
  /** The envelope's `duration`: the server's own time. */
  serverMs: number[];
  readUnits: number;
  calls: string;
}

interface LevelMeasure {
  tasks: number;
  first: PageMeasure;
  deep: PageMeasure;
}

/** A finished restart's record, from one real restart in local mode: the history is copies of it. */
async function finishedRestart(bench: BenchSystem): Promise<TaskRecord> {
  const { status, body } = await bench.restart(BENCH_HOSTS);
  if (status !== 200 || !body.data) throw new Error(`Restart of host ${BENCH_HOSTS} answered ${status}`);
  await bench.waitForEnd([body.data.id], 60_000);
  const task = await new TaskStore(bench.system.tables.taskTable).getTask(body.data.id);
  if (task?.status !== 'SUCCESSFUL') throw new Error(`Task ${body.data.id} ended ${task?.status}`);
  return task;
}

/** The n-th task of the written history: a copy of the template, in one of MONTHS months and HOSTS hosts. */
function historyTask(template: TaskRecord, id: number, n: number, now: Date): TaskRecord {
  const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - (n % MONTHS), 1 + (n % 27), 8));
  start.setUTCSeconds(n % 86_400);
  return {
    ...template,
    id,
    hostId: FIRST_HOST + (n % HOSTS),
    status: n % 10 === 0 ? 'FAILED' : 'SUCCESSFUL',
    executor: template.executor.replace(/task-\d+$/, `task-${id}`),
    startTime: ocpTimestamp(start),
    endTime: ocpTimestamp(new Date(start.getTime() + 30_000)),
    subtasks: template.subtasks.map((subtask, i) => ({ ...subtask, id: id + 1 + i })),
  };
}

async function batchWrite(tableName: string, requests: WriteRequest[]): Promise<void> {
  let pending: WriteRequest[] = requests;
  for (let attempt = 0; pending.length > 0; attempt++) {
    if (attempt > 20) throw new Error(`BatchWriteItem left ${pending.length} items unprocessed`);
    const result = await dynamodb.send(new BatchWriteItemCommand({ RequestItems: { [tableName]: pending } }));
    pending = result.UnprocessedItems?.[tableName] ?? [];
  }
}

/**
 * Writes `count` history tasks directly (BatchWriteItem) and adds them to the counters (one ADD per
 * counter item), as the store's transactions would have counted them; `listPk` overrides the partition.
 */
async function writeHistory(
  tableName: string,
  template: TaskRecord,
  from: number,
  count: number,
  listPk?: (task: TaskRecord) => string,
): Promise<void> {
  const store = new TaskStore(tableName);
  const firstId = await store.allocateIds(count * IDS_PER_TASK);
  const now = new Date();
  const counts = new Map<string, { key: { pk: string; sk: string }; attributes: Map<string, number> }>();
  const batches: WriteRequest[][] = [];
  for (let i = 0; i < count; i += BATCH) {
    const batch: WriteRequest[] = [];
    for (let n = i; n < Math.min(count, i + BATCH); n++) {
      const task = historyTask(template, firstId + n * IDS_PER_TASK, from + n, now);
      const item = {
        ...taskKey(task.id),
        listPk: listPk?.(task) ?? listPartitionOf(task.startTime),
        ...task,
      };
      batch.push({ PutRequest: { Item: marshall(item, { removeUndefinedValues: true }) } });
      for (const { key, attribute } of countsOf(task)) {
        const id = `${key.pk}\n${key.sk}`;
        const counter = counts.get(id) ?? { key, attributes: new Map() };
        counts.set(id, counter);
        counter.attributes.set(attribute, (counter.attributes.get(attribute) ?? 0) + 1);
      }
    }
    batches.push(batch);
  }
  for (let i = 0; i < batches.length; i += WRITE_CONCURRENCY)
    await Promise.all(batches.slice(i, i + WRITE_CONCURRENCY).map((batch) => batchWrite(tableName, batch)));
  const counters = [...counts.values()];
  for (let i = 0; i < counters.length; i += WRITE_CONCURRENCY * 4) {
    await Promise.all(
      counters.slice(i, i + WRITE_CONCURRENCY * 4).map(({ key, attributes }) => {
        const entries = [...attributes];
        return dynamodb.send(
          new UpdateItemCommand({
            TableName: tableName,
            Key: marshall(key),
            UpdateExpression: `ADD ${entries.map((_, j) => `#a${j} :v${j}`).join(', ')}`,
            ExpressionAttributeNames: Object.fromEntries(entries.map(([name], j) => [`#a${j}`, name])),
            ExpressionAttributeValues: Object.fromEntries(
              entries.map(([, value], j) => [`:v${j}`, { N: String(value) }]),
            ),
          }),
        );
      }),
    );
  }
}

const describeCalls = (count: ReturnType<typeof countCalls>['count']) =>
  [...count.calls].map(([operation, n]) => `${operation.replace(/Command$/, '')} ${n}`).join(', ');

/** One GET of the listing over local mode's HTTP API: its time, the envelope's duration and its page. */
async function getPage(bench: BenchSystem, page: number): Promise<{ ms: number; serverMs: number }> {
  const started = performance.now();
  const response = await fetch(
    `${bench.system.apiUrl}/api/v2/tasks/instances?page=${page}&size=${PAGE_SIZE}`,
    {
      headers: { authorization: `Bearer ${bench.token}` },
    },
  );
  const envelope = (await response.json()) as { duration: number; data?: { contents: unknown[] } };
  const ms = performance.now() - started;
  if (response.status !== 200 || envelope.data?.contents.length !== PAGE_SIZE)
    throw new Error(`Page ${page} answered ${response.status} with ${envelope.data?.contents.length} tasks`);
  return { ms, serverMs: envelope.duration };
}

async function measureLevel(bench: BenchSystem, tasks: number): Promise<LevelMeasure> {
  const pages = { first: 1, deep: DEEP_PAGE } as const;
  const measures = { first: emptyMeasure(), deep: emptyMeasure() };
  for (const which of ['first', 'deep'] as const) {
    // The read units and calls of one call, apart: counting asks every call for its consumed capacity.
    const counter = countCalls(dynamodb, `list-${which}`);
    try {
      await getPage(bench, pages[which]);
    } finally {
      counter.stop();
    }
    measures[which].readUnits = counter.count.readUnits;
    measures[which].calls = describeCalls(counter.count);
    for (let i = 0; i < WARM_UP_CALLS; i++) await getPage(bench, pages[which]);
  }
  for (let i = 0; i < TIMED_CALLS; i++) {
    for (const which of i % 2 === 0 ? (['first', 'deep'] as const) : (['deep', 'first'] as const)) {
      const { ms, serverMs } = await getPage(bench, pages[which]);
      measures[which].ms.push(ms);
      measures[which].serverMs.push(serverMs);
    }
  }
  return { tasks, ...measures };
}

const emptyMeasure = (): PageMeasure => ({ ms: [], serverMs: [], readUnits: 0, calls: '' });

/** The listing before (kept here only to measure it): every match of byCreation's one partition read to count it. */
async function listingBefore(tableName: string, page: number): Promise<number> {
  const first = page * PAGE_SIZE;
  let matched = 0;
  let taken = 0;
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const result = await dynamodb.send(
      new QueryCommand({
        TableName: tableName,
        IndexName: TASK_TABLE.byCreationIndex.name,
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': TASK_TABLE.byCreationIndex.partitionKey },
        ExpressionAttributeValues: { ':pk': { S: SINGLE_LIST_PARTITION } },
        ScanIndexForward: false,
        ExclusiveStartKey: startKey,
      }),
    );
    for (const item of result.Items ?? []) {
      if (matched >= first && taken < PAGE_SIZE) {
        unmarshall(item);
        taken++;
      }
      matched++;
    }
    startKey = result.LastEvaluatedKey;
  } while (startKey);
  return matched;
}

async function measureBefore(
  tableName: string,
): Promise<Record<'first' | 'deep', { ms: number[]; readUnits: number; calls: string }>> {
  const result = {
    first: { ms: [] as number[], readUnits: 0, calls: '' },
    deep: { ms: [] as number[], readUnits: 0, calls: '' },
  };
  for (const [which, page] of [
    ['first', 0],
    ['deep', DEEP_PAGE - 1],
  ] as const) {
    const counter = countCalls(dynamodb, `before-${which}`);
    try {
      const matched = await listingBefore(tableName, page);
      if (matched !== BEFORE_LEVEL) throw new Error(`The listing of before counted ${matched} tasks`);
    } finally {
      counter.stop();
    }
    result[which].readUnits = counter.count.readUnits;
    result[which].calls = describeCalls(counter.count);
    for (let i = 0; i < 10; i++) {
      const started = performance.now();
      await listingBefore(tableName, page);
      result[which].ms.push(performance.now() - started);
    }
  }
  return result;
}

export async function run(context: BenchContext): Promise<PartResult> {
  const started = Date.now();
  const machine = machineInfo();
  const bench = await context.localSystem();
  const tableName = bench.system.tables.taskTable;
  const template = await finishedRestart(bench);
  const templateBytes = JSON.stringify(template).length;
  const listing = new TaskList(tableName);
  const levels: LevelMeasure[] = [];
  let written = 0;
  let fillSeconds = 0;
  for (const level of LEVELS) {
    const present = (await listing.list({ page: 0, size: 1 })).totalElements;
    if (present > level) throw new Error(`The task table already holds ${present} tasks, more than ${level}`);
    context.log(
      `list: writing ${(level - present).toLocaleString('en-US')} tasks (${level.toLocaleString('en-US')} in the table)`,
    );
    const fillStarted = Date.now();
    await writeHistory(tableName, template, written, level - present);
    fillSeconds += (Date.now() - fillStarted) / 1000;
    written += level - present;
    context.log(
      `list: ${TIMED_CALLS} calls of page 1 and page ${DEEP_PAGE} with ${level.toLocaleString('en-US')} tasks`,
    );
    levels.push(await measureLevel(bench, level));
  }

  // Before: the old listing, on a table of its own in the old layout (every task in one partition).
  const suffix = randomUUID().slice(0, 8);
  const beforeTables = {
    taskTable: `bench-list-before-tasks-${suffix}`,
    hostTable: `bench-list-before-hosts-${suffix}`,
  };
  let before: Awaited<ReturnType<typeof measureBefore>>;
  try {
    await ensureTables(dynamodb, beforeTables);
    context.log(`list: the listing of before, with ${BEFORE_LEVEL.toLocaleString('en-US')} tasks`);
    await writeHistory(beforeTables.taskTable, template, 0, BEFORE_LEVEL, () => SINGLE_LIST_PARTITION);
    before = await measureBefore(beforeTables.taskTable);
  } finally {
    for (const TableName of Object.values(beforeTables))
      await dynamodb.send(new DeleteTableCommand({ TableName })).catch(() => undefined);
  }

  const count = (n: number) => n.toLocaleString('en-US');
  const smallest = levels[0]!;
  const largest = levels.at(-1)!;
  const figures: Figure[] = [];
  for (const [which, label] of [
    ['first', 'page 1'],
    ['deep', `page ${DEEP_PAGE}`],
  ] as const) {
    for (const level of levels)
      figures.push({
        name: `list ${label} (size ${PAGE_SIZE}) p50, ${count(level.tasks)} tasks`,
        value: round(median(level[which].ms)),
        unit: 'ms',
      });
    figures.push({
      name: `list ${label} p50, ${count(largest.tasks)} ÷ ${count(smallest.tasks)} tasks`,
      value: round(median(largest[which].ms) / median(smallest[which].ms), 2),
      unit: '×',
      budget: { max: RATIO_BUDGET },
    });
    for (const level of [smallest, largest])
      figures.push({
        name: `list ${label} read units, ${count(level.tasks)} tasks`,
        value: round(level[which].readUnits, 1),
        unit: 'RRU',
      });
    figures.push({
      name: `before: list ${label} read units, ${count(BEFORE_LEVEL)} tasks`,
      value: round(before[which].readUnits, 1),
      unit: 'RRU',
    });
    figures.push({
      name: `before: list ${label} time p50 (store only), ${count(BEFORE_LEVEL)} tasks`,
      value: round(median(before[which].ms)),
      unit: 'ms',
    });
  }
  const row = (level: LevelMeasure, which: 'first' | 'deep') => {
    const measure = level[which];
    return `${round(median(measure.ms))} / ${round(percentile(measure.ms, 95))} | ${round(median(measure.serverMs))} | ${round(measure.readUnits, 1)} | ${measure.calls}`;
  };
  const before50 = (DEEP_PAGE - 1) * PAGE_SIZE;
  const deepVerdict = `
**Page ${DEEP_PAGE}.** A page's cost follows its depth, not the history. Whole months before the page are
passed over by their counts and never read; within the month where it starts, whole blocks of
${count(LIST_BLOCK_IDS)} ids (at most ${LIST_BLOCK_TASKS} tasks) are passed over by their block counters — tiny items,
kept in the transactions that create and delete tasks, read newest first only up to the block holding the
page — and then fewer than ${LIST_BLOCK_TASKS} tasks are read before the page starts. Page ${DEEP_PAGE} comes after
${count(before50)} tasks: with ${count(largest.tasks)} tasks it starts inside the newest month and reads
${round(largest.deep.readUnits, 1)} RRU in ${round(median(largest.deep.ms))} ms. A deep page filtered by status or
name still reads the matching tasks before it within its month, as block counters count every status together.
`;
  return {
    id: 'list',
    title: 'Task listing against the history',
    command: context.command,
    machine,
    seconds: (Date.now() - started) / 1000,
    figures,
    method: `
\`GET /api/v2/tasks/instances?page=<1 | ${DEEP_PAGE}>&size=${PAGE_SIZE}\` over local mode's HTTP API, with
${LEVELS.map(count).join(', ')} tasks in its task table in turn: the history grows between measurements. The tasks are
copies of a restart that really ran in local mode just before (${round(templateBytes / 1024, 1)} KB of JSON each),
spread over ${MONTHS} monthly creation buckets and ${count(HOSTS)} hosts (one in ten FAILED, the rest
SUCCESSFUL), written directly with BatchWriteItem (${round(fillSeconds)} s) and added to the counters as the
store's transactions count them (one ADD per counter item). At each level: one counted call of each page,
${WARM_UP_CALLS} uncounted ones, then ${TIMED_CALLS} timed calls of each, the two pages in turn; the time is the
client's (fetch in the benchmark's process, one request at a time; p50), the envelope's \`duration\` is the
server's own.

**Read units** are DynamoDB Local's ConsumedCapacity of the calls one listing makes, counted by an SDK
middleware on the handlers' client (bench/sdk-counter.ts): a Query of the bucket counters (eventually
consistent, half a unit per 4 KB) and Queries of the byCreation partitions holding the page; for page
${DEEP_PAGE}, a Query of the block counters of its month and, in its block, the tasks before it (their keys only
are returned, but DynamoDB bills the items read).

**Before** is the listing this replaced, kept in the benchmark only: one Query of byCreation's single
partition (\`listPk = 'TASK'\`), walked to its end to count \`totalElements\`. It is measured on a table of
its own in the old layout holding ${count(BEFORE_LEVEL)} of the same tasks, as a store call (no HTTP), ten times per page.
`,
    details: [
      `| tasks | page | ms p50 / p95 (HTTP) | server ms p50 | read units | DynamoDB calls |
| --- | --- | --- | --- | --- | --- |
${levels.flatMap((level) => [`| ${count(level.tasks)} | 1 | ${row(level, 'first')} |`, `| ${count(level.tasks)} | ${DEEP_PAGE} | ${row(level, 'deep')} |`]).join('\n')}
| before: ${count(BEFORE_LEVEL)} | 1 | ${round(median(before.first.ms))} (store only) | | ${round(before.first.readUnits, 1)} | ${before.first.calls} |
| before: ${count(BEFORE_LEVEL)} | ${DEEP_PAGE} | ${round(median(before.deep.ms))} (store only) | | ${round(before.deep.readUnits, 1)} | ${before.deep.calls} |`,
      deepVerdict,
    ],
  };
}
