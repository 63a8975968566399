import { type BatchHostStatus, countHostStatuses } from '../../functions/core/batch-host-status.ts';
import type { OcpBatchHost, OcpBatchTask } from '../../functions/core/batch-task-view.ts';
import type { SubtaskStatus } from '../../functions/core/task.ts';

export interface GridCell {
  subtaskId: number;
  status: SubtaskStatus;
  runTime: number;
  error?: string;
}

export interface GridRow {
  host: OcpBatchHost;
  /** One cell per column; missing when the host's chain has no such subtask. */
  cells: (GridCell | undefined)[];
}

/** A fleet task as a host × subtask grid: a row per host, a column per subtask of the restart. */
export interface BatchGrid {
  columns: string[];
  rows: GridRow[];
  counts: Record<BatchHostStatus, number>;
  failing: OcpBatchHost[];
  /** Hosts that have ended, whatever their outcome. */
  done: number;
}

export function batchGrid(batch: Pick<OcpBatchTask, 'hosts' | 'subtasks'>): BatchGrid {
  const columns: string[] = [];
  const chains = new Map<number, Map<string, GridCell>>();
  for (const subtask of batch.subtasks) {
    if (subtask.parallelIdx < 0) continue; // the Wait node joining the chains
    if (!columns.includes(subtask.name)) columns.push(subtask.name);
    const chain = chains.get(subtask.parallelIdx) ?? new Map<string, GridCell>();
    chain.set(subtask.name, {
      subtaskId: subtask.id,
      status: subtask.status,
      runTime: subtask.runTime,
      ...(subtask.error ? { error: subtask.error } : {}),
    });
    chains.set(subtask.parallelIdx, chain);
  }
  const counts = countHostStatuses(batch.hosts);
  return {
    columns,
    rows: batch.hosts.map((host, index) => ({
      host,
      cells: columns.map((name) => chains.get(index)?.get(name)),
    })),
    counts,
    failing: batch.hosts.filter((host) => host.status === 'FAILED'),
    done: batch.hosts.length - counts.RUNNING - counts.PENDING,
  };
}
