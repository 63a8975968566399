import { TASKS_PER_ID_BLOCK } from '#core/id-blocks';
import type { SubtaskKey } from '#core/subtasks';
import { ENV } from './catalog.ts';
import { lazyConfig, requireEnv } from './config.ts';

export type CommandDocumentKey = SubtaskKey | 'agentStatus';

/** Each value is read from the environment on first use, failing loudly if its variable is missing. */
export const taskTableName = lazyConfig(() => requireEnv(ENV.taskTable));
export const hostTableName = lazyConfig(() => requireEnv(ENV.hostTable));
export const stateMachineArn = lazyConfig(() => requireEnv(ENV.stateMachineArn));
export const batchStateMachineArn = lazyConfig(() => requireEnv(ENV.batchStateMachineArn));
export const eventBusName = lazyConfig(() => requireEnv(ENV.eventBusName));
export const rejectedQueueUrl = lazyConfig(() => requireEnv(ENV.rejectedQueueUrl));
export const commandOutputLogGroup = lazyConfig(() => requireEnv(ENV.commandOutputLogGroup));
export const taskIdBlockTasks = lazyConfig(() => {
  const text = process.env[ENV.taskIdBlockTasks];
  if (!text) return TASKS_PER_ID_BLOCK;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1)
    throw new Error(`${ENV.taskIdBlockTasks} must be a whole number ≥ 1`);
  return value;
});
export const permissionsClaim = lazyConfig(() => process.env[ENV.permissionsClaim] || 'cognito:groups');

const commandDocuments = lazyConfig(() => {
  const parsed: unknown = JSON.parse(requireEnv(ENV.commandDocuments));
  if (typeof parsed !== 'object' || parsed === null)
    throw new Error(`${ENV.commandDocuments} must be a JSON object`);
  return parsed as Partial<Record<CommandDocumentKey, string>>;
});

export function documentFor(key: CommandDocumentKey): string {
  const name = commandDocuments()[key];
  if (!name) throw new Error(`${ENV.commandDocuments} names no document for ${key}`);
  return name;
}

/** The folder of the console's files and openapi.json: on Lambda, inside the bundle. */
export const consoleAssetsDir = lazyConfig(() => requireEnv(ENV.consoleAssetsDir));
