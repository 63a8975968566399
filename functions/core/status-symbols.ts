import type { SubtaskStatus } from './task-statuses.ts';

/** One character per subtask status, as the CLI's live view and the console's fleet grid show it. */
export const SUBTASK_STATUS_SYMBOLS: Readonly<Record<SubtaskStatus, string>> = {
  PENDING: '·',
  READY: '·',
  RUNNING: '▶',
  CANCELING: '■',
  SUCCESSFUL: '✔',
  FAILED: '✘',
  ROLLBACK_SKIP: '↷',
};

/** The symbol of a status as an answer gives it: '?' for one this version does not know. */
export const statusSymbol = (status: string): string =>
  (SUBTASK_STATUS_SYMBOLS as Record<string, string>)[status] ?? '?';
