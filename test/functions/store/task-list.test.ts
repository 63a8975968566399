import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { dynamodb } from '../../../functions/aws/dynamodb.ts';
import { IDS_PER_TASK } from '../../../functions/core/subtasks.ts';
import { newRestartTask, type TaskRecord, type TaskStatus } from '../../../functions/core/task.ts';
import { retryTask } from '../../../functions/core/task-lifecycle.ts';
import { ocpTimestamp, utcMonth } from '../../../functions/core/time.ts';
import { LIST_BLOCK_TASKS, TASK_TABLE } from '../../../functions/store/table-schema.ts';
import { fromTaskItem } from '../../../functions/store/task-item.ts';
import type { ListedTask, TaskListQuery } from '../../../functions/store/task-list.ts';
import { WorkflowTaskStore } from '../../../functions/store/workflow-task-store.ts';
import { endStoredTask } from '../../support/tasks.ts';
import { createTestTables, type TestTables, tableItems } from '../../support/test-tables.ts';

const HOSTS = [1, 2, 3, 4, 5, 6];
const MONTHS = ['2025-01', '2025-02', '2025-03', '2025-05', '2025-06', '2025-09', '2025-10', '2025-12'];
const NAMES = ['Restart OCP agent', 'Upgrade OCP agent'];
const TASKS = 150;

let tables: TestTables;
let store: WorkflowTaskStore;
/** Every task as the table holds it after the set-up (a consistent scan). */
let stored: TaskRecord[];

/** The id of a listed task or batch. */
const idOf = (entry: ListedTask) => (entry.kind === 'task' ? entry.task.id : entry.batch.id);

/** A deterministic generator, so that a failure can be replayed. */
function seeded(seed: number) {
  let state = seed;
  return (below: number) => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state % below;
  };
}

beforeAll(async () => {
  tables = await createTestTables();
  store = new WorkflowTaskStore(tables.taskTable);
  const random = seeded(11);
  const running = new Map<number, TaskRecord>();
  for (let i = 0; i < TASKS; i++) {
    const hostId = HOSTS[random(HOSTS.length)]!;
    const held = running.get(hostId);
    if (held) {
      await endStoredTask(store, held.id, random(2) ? 'FAILED' : 'SUCCESSFUL', { endTime: held.startTime });
      running.delete(hostId);
    }
    // Months in random order, so that a newer month may hold older ids.
    const month = MONTHS[random(MONTHS.length)]!;
    const task: TaskRecord = {
      ...newRestartTask({
        firstId: await store.allocateIds(IDS_PER_TASK),
        hostId,
        creator: 'alice',
        type: 'MANUAL',
        prohibitRollback: false,
        executionArn: `arn:aws:states:us-east-1:1:execution:sm:task-${i}`,
        now: new Date(`${month}-${String(1 + random(28)).padStart(2, '0')}T12:00:00.000Z`),
      }),
      name: NAMES[random(5) === 0 ? 1 : 0]!,
    };
    await store.createTask(task);
    running.set(hostId, task);
  }
  // Some FAILED tasks reopened (RUNNING again): the counters follow every transition.
  for (const [hostId, task] of running) {
    if (hostId % 2) continue;
    const failed = await endStoredTask(store, task.id, 'FAILED', { endTime: task.startTime });
    await store.save(failed, retryTask({ ...failed, endTime: ocpTimestamp(new Date()) }, new Date()));
  }
  stored = (await tableItems(tables.taskTable)).filter((item) => item.sk === 'TASK').map(fromTaskItem);
}, 120_000);

/** What a listing must answer, from every task: filtered, newest first (creation month, then id). */
function reference(query: TaskListQuery) {
  const matches = stored
    .filter((task) => query.hostId === undefined || task.hostId === query.hostId)
    .filter((task) => !query.status || task.status === query.status)
    .filter((task) => !query.name || task.name.includes(query.name))
    .sort((a, b) => {
      const byMonth =
        query.hostId === undefined ? utcMonth(b.startTime).localeCompare(utcMonth(a.startTime)) : 0;
      return byMonth || b.id - a.id;
    });
  const first = query.page * query.size;
  return {
    ids: matches.slice(first, first + query.size).map((task) => task.id),
    totalElements: matches.length,
  };
}

/** The partitions of an index that the listing queried, in order. */
async function partitionsRead(indexName: string, list: () => Promise<unknown>): Promise<unknown[]> {
  const read: unknown[] = [];
  dynamodb.middlewareStack.add(
    (next) => async (args) => {
      const input = args.input as { IndexName?: string; ExpressionAttributeValues?: Record<string, object> };
      if (input.IndexName === indexName)
        read.push(Object.values(input.ExpressionAttributeValues![':partition']!)[0]);
      return next(args);
    },
    { step: 'initialize', name: 'recordPartitions' },
  );
  try {
    await list();
  } finally {
    dynamodb.middlewareStack.remove('recordPartitions');
  }
  return read;
}

describe('TaskList', () => {
  it('writes each task’s list entry in the byCreation partition of its creation month, the task item in none', async () => {
    const items = await tableItems(tables.taskTable);
    const entries = items.filter((item) => item.sk === 'LIST');
    expect(entries).toHaveLength(TASKS);
    for (const entry of entries) {
      expect(entry.listPk).toBe(`TASK#${utcMonth(fromTaskItem(entry).startTime)}`);
    }
    for (const item of items.filter((item) => item.sk === 'TASK')) {
      expect(item).not.toHaveProperty('listPk');
      expect(item).not.toHaveProperty('hostId');
    }
  });

  it('answers every mix of filters and pages as reading every task would', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          hostId: fc.option(fc.constantFrom(...HOSTS, 99), { nil: undefined }),
          status: fc.option(fc.constantFrom<TaskStatus>('RUNNING', 'FAILED', 'SUCCESSFUL'), {
            nil: undefined,
          }),
          name: fc.option(fc.constantFrom('Restart', 'OCP agent', 'Upgrade', 'Stop'), { nil: undefined }),
          size: fc.integer({ min: 1, max: 40 }),
          pageShare: fc.double({ min: 0, max: 1.1, noNaN: true }),
        }),
        async ({ pageShare, ...filters }) => {
          const total = reference({ ...filters, page: 0, size: 1 }).totalElements;
          const page = Math.floor((pageShare * total) / filters.size);
          const query = { ...filters, page };
          const { tasks, totalElements } = await store.listTasks(query);
          expect({ ids: tasks.map(idOf), totalElements }).toEqual(reference(query));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('returns tasks as stored, without the index or counter attributes', async () => {
    const { tasks } = await store.listTasks({ page: 0, size: 40 });
    expect(tasks).toHaveLength(40);
    for (const entry of tasks) {
      if (entry.kind !== 'task') throw new Error(`Listed a batch: ${entry.batch.id}`);
      const { task } = entry;
      expect(Object.keys(task)).not.toContain('listPk');
      expect(Object.keys(task)).not.toContain('pk');
      expect(task).toEqual(stored.find((candidate) => candidate.id === task.id));
    }
  });

  it('reads only the months that hold a deep page, across a month boundary', async () => {
    const size = 7;
    const months = MONTHS.map((month) => ({
      month,
      count: stored.filter((task) => utcMonth(task.startTime) === month).length,
    })).reverse();
    // The first page that starts inside one month and ends in the next.
    let page = 0;
    const spanned = () => {
      const { ids } = reference({ page, size });
      return [...new Set(ids.map((id) => utcMonth(stored.find((task) => task.id === id)!.startTime)))];
    };
    while (spanned().length < 2 || page * size < months[0]!.count) page++;
    const read = await partitionsRead(TASK_TABLE.byCreationIndex.name, async () => {
      const { tasks } = await store.listTasks({ page, size });
      expect(tasks.map(idOf)).toEqual(reference({ page, size }).ids);
    });
    expect([...new Set(read)]).toEqual(spanned().map((month) => `TASK#${month}`));
  });

  it('reads no task for a page past the end', async () => {
    const read = await partitionsRead(TASK_TABLE.byCreationIndex.name, async () => {
      expect(await store.listTasks({ page: 100, size: 10 })).toEqual({ tasks: [], totalElements: TASKS });
    });
    expect(read).toEqual([]);
    const hostRead = await partitionsRead(TASK_TABLE.byHostIndex.name, () =>
      store.listTasks({ hostId: 1, page: 100, size: 10 }),
    );
    expect(hostRead).toEqual([]);
  });

  it('stops reading a host’s tasks once the page is full', async () => {
    const read = await partitionsRead(TASK_TABLE.byHostIndex.name, async () => {
      const { tasks } = await store.listTasks({ hostId: 2, page: 0, size: 3 });
      expect(tasks.map(idOf)).toEqual(reference({ hostId: 2, page: 0, size: 3 }).ids);
    });
    expect(read).toEqual(['2']);
  });
});

describe('TaskList, deep pages of a month holding many id blocks', () => {
  const MONTH_TASKS = 3 * LIST_BLOCK_TASKS + 40;
  let monthStore: WorkflowTaskStore;
  let monthTasks: TaskRecord[];

  beforeAll(async () => {
    const monthTables = await createTestTables();
    monthStore = new WorkflowTaskStore(monthTables.taskTable);
    const random = seeded(23);
    for (let i = 0; i < MONTH_TASKS; i++) {
      // Ids allocated and never used, and tasks deleted before they started, as refused requests leave.
      if (random(4) === 0) await monthStore.allocateIds(IDS_PER_TASK * (1 + random(30)));
      const task = newRestartTask({
        firstId: await monthStore.allocateIds(IDS_PER_TASK),
        hostId: 10_000 + i,
        creator: 'alice',
        type: 'MANUAL',
        prohibitRollback: false,
        executionArn: `arn:aws:states:us-east-1:1:execution:sm:month-${i}`,
        now: new Date(`2026-11-${String(1 + (i % 28)).padStart(2, '0')}T08:00:00.000Z`),
      });
      await monthStore.createTask(task);
      if (random(10) === 0) await monthStore.deleteUnstartedTask(task);
      else if (random(3) === 0)
        await endStoredTask(monthStore, task.id, 'FAILED', { endTime: task.startTime });
    }
    monthTasks = (await tableItems(monthTables.taskTable))
      .filter((item) => item.sk === 'TASK')
      .map(fromTaskItem)
      .sort((a, b) => b.id - a.id);
  }, 120_000);

  /** How many list entries the listing's Queries of byCreation returned. */
  async function entriesRead(list: () => Promise<unknown>): Promise<number> {
    let read = 0;
    dynamodb.middlewareStack.add(
      (next) => async (args) => {
        const result = await next(args);
        const input = args.input as { IndexName?: string };
        if (input.IndexName === TASK_TABLE.byCreationIndex.name)
          read += ((result.output as { Items?: unknown[] }).Items ?? []).length;
        return result;
      },
      { step: 'initialize', name: 'countEntries' },
    );
    try {
      await list();
    } finally {
      dynamodb.middlewareStack.remove('countEntries');
    }
    return read;
  }

  it('answers every page as reading every task would', async () => {
    const size = 9;
    for (let page = 0; page * size <= monthTasks.length; page++) {
      const { tasks, totalElements } = await monthStore.listTasks({ page, size });
      expect(totalElements).toBe(monthTasks.length);
      expect(tasks.map(idOf), `page ${page}`).toEqual(
        monthTasks.slice(page * size, page * size + size).map((task) => task.id),
      );
    }
  });

  it('reads fewer than a block’s tasks before a deep page, however deep', async () => {
    const size = 10;
    const deepest = Math.floor((monthTasks.length - 1) / size);
    for (const page of [Math.floor(deepest / 2), deepest]) {
      const read = await entriesRead(() => monthStore.listTasks({ page, size }));
      expect(read, `page ${page}`).toBeLessThan(LIST_BLOCK_TASKS + size);
    }
  });

  it('passes over the tasks one by one when the page is filtered, as counters by block count no status', async () => {
    const failed = monthTasks.filter((task) => task.status === 'FAILED');
    const { tasks } = await monthStore.listTasks({ status: 'FAILED', page: 3, size: 10 });
    expect(tasks.map(idOf)).toEqual(failed.slice(30, 40).map((task) => task.id));
  });
});
