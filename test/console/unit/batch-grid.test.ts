import { describe, expect, it } from 'vitest';
import { batchGrid } from '../../../console/src/batch-grid.ts';
import type { OcpBatchHost } from '../../../functions/core/batch-task-view.ts';
import type { OcpSubtask } from '../../../functions/core/task.ts';

const subtask = (
  id: number,
  parallelIdx: number,
  name: string,
  status: OcpSubtask['status'],
  error?: string,
) => ({ id, parallelIdx, name, status, runTime: 1, ...(error ? { error } : {}) }) as OcpSubtask;

describe('batchGrid', () => {
  it('lays a fleet task out as hosts × subtasks, counts hosts by status and lists the failing ones', () => {
    const hosts: OcpBatchHost[] = [
      { hostId: 1, status: 'SUCCESSFUL', taskId: 10 },
      { hostId: 2, status: 'FAILED', taskId: 20, failedSubtask: 'Stop', error: 'boom' },
      { hostId: 3, status: 'PENDING' },
    ];
    const grid = batchGrid({
      hosts,
      subtasks: [
        subtask(11, 0, 'Check', 'SUCCESSFUL'),
        subtask(12, 0, 'Stop', 'SUCCESSFUL'),
        subtask(21, 1, 'Check', 'SUCCESSFUL'),
        subtask(22, 1, 'Stop', 'FAILED', 'boom'),
        subtask(31, 2, 'Check', 'READY'),
        subtask(32, 2, 'Stop', 'PENDING'),
        subtask(40, -1, 'Wait node', 'PENDING'),
      ],
    });

    expect(grid.columns).toEqual(['Check', 'Stop']);
    expect(grid.rows.map((row) => [row.host.hostId, row.cells.map((cell) => cell?.status)])).toEqual([
      [1, ['SUCCESSFUL', 'SUCCESSFUL']],
      [2, ['SUCCESSFUL', 'FAILED']],
      [3, ['READY', 'PENDING']],
    ]);
    expect(grid.rows[1]!.cells[1]).toEqual({ subtaskId: 22, status: 'FAILED', runTime: 1, error: 'boom' });
    expect(grid.counts).toEqual({
      SUCCESSFUL: 1,
      FAILED: 1,
      RUNNING: 0,
      PENDING: 1,
      NOT_STARTED: 0,
      CANCELED: 0,
    });
    expect(grid.failing.map((host) => host.hostId)).toEqual([2]);
    expect(grid.done).toBe(2);
  });

  it('leaves a cell empty for a host whose chain lacks the subtask, and an empty batch empty', () => {
    const grid = batchGrid({
      hosts: [
        { hostId: 1, status: 'NOT_STARTED', reason: 'busy' },
        { hostId: 2, status: 'RUNNING' },
      ],
      subtasks: [subtask(21, 1, 'Check', 'RUNNING')],
    });
    expect(grid.rows[0]!.cells).toEqual([undefined]);
    expect(grid.done).toBe(1);
    expect(batchGrid({ hosts: [], subtasks: [] })).toMatchObject({
      columns: [],
      rows: [],
      failing: [],
      done: 0,
    });
  });
});
