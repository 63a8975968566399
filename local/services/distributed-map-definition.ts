import { createHash } from 'node:crypto';
import type { StateMachineDefinition } from 'aws-local-stepfunctions';
import { DISTRIBUTED_MAP_RESOURCE, type JsonValue } from '#local/services/step-functions-tasks';

// What CreateStateMachine refuses in a Distributed Map state (API reference, botocore's model, and
// AWS's answers recorded by LocalStack's validated tests): MaxConcurrency above 10,000 in DISTRIBUTED
// mode, ToleratedFailurePercentage outside 0-100, a negative ToleratedFailureCount, a Label longer than
// 40 characters or with whitespace, brackets, wildcards, punctuation or control characters
// (INVALID_LABEL_NAME), a Label used twice (DUPLICATE_LABEL_NAME), distributed-only fields on an inline
// Map. Local mode also refuses what it cannot run: ItemReader, ItemBatcher, ResultWriter, EXPRESS
// children, JSONata.

/** The most child executions a Distributed Map runs at once, and the default. */
export const DISTRIBUTED_MAX_CONCURRENCY = 10_000;
/** The library times a Task out after TimeoutSeconds: the longest a Node timer allows (24.8 days). */
const STAND_IN_TIMEOUT_SECONDS = 2_147_483;
const LABEL_FORBIDDEN = /[\s<>{}[\]?*"#%\\^|~`$&,;:/]/;
const DISTRIBUTED_ONLY_FIELDS = [
  'Label',
  'ItemReader',
  'ItemBatcher',
  'ResultWriter',
  'ToleratedFailureCount',
  'ToleratedFailureCountPath',
  'ToleratedFailurePercentage',
  'ToleratedFailurePercentagePath',
] as const;
const NOT_RUN_LOCALLY = ['ItemReader', 'ItemBatcher', 'ResultWriter'] as const;

type Json = Record<string, unknown>;

/** A Map state's fields, as read here (JSONPath). */
export interface MapStateFields extends Json {
  ItemProcessor?: ProcessorFields;
  Iterator?: ProcessorFields;
  ItemsPath?: string;
  ItemSelector?: JsonValue;
  Parameters?: JsonValue;
  MaxConcurrency?: number;
  MaxConcurrencyPath?: string;
  ToleratedFailureCount?: number;
  ToleratedFailureCountPath?: string;
  ToleratedFailurePercentage?: number;
  ToleratedFailurePercentagePath?: string;
  Label?: string;
}

export interface ProcessorFields extends Json {
  ProcessorConfig?: { Mode?: string; ExecutionType?: string };
  StartAt: string;
  States: Record<string, Json>;
}

/**
 * The definition the library runs: each Distributed Map state (not those inside another one's item
 * processor, which its child machine runs) becomes a Task whose handler runs the Map Run. Its own fields
 * (InputPath, ResultSelector, ResultPath, OutputPath, Retry, Catch, Next/End) keep their meaning. Throws
 * what CreateStateMachine refuses, and what local mode cannot run.
 */
export function prepareDistributedMaps(definition: object): {
  definition: StateMachineDefinition;
  maps: Map<string, MapStateFields>;
} {
  const copy = structuredClone(definition) as Json;
  const maps = new Map<string, MapStateFields>();
  const labels = new Set<string>();
  const topLanguage = copy.QueryLanguage;
  const walk = (states: Record<string, Json>) => {
    for (const [name, state] of Object.entries(states)) {
      if (state.Type === 'Parallel') {
        for (const branch of state.Branches as ProcessorFields[]) walk(branch.States);
      }
      if (state.Type !== 'Map') continue;
      const map = state as MapStateFields;
      const processor = map.ItemProcessor ?? map.Iterator;
      if (processor?.ProcessorConfig?.Mode !== 'DISTRIBUTED') {
        const field = DISTRIBUTED_ONLY_FIELDS.find((key) => key in map);
        if (field) invalid(name, field, 'is only allowed in a Map state in DISTRIBUTED mode');
        if (processor) walk(processor.States);
        continue;
      }
      checkDistributedMap(name, map, topLanguage, labels);
      maps.set(name, structuredClone(map));
      states[name] = standIn(map);
    }
  };
  walk(copy.States as Record<string, Json>);
  return { definition: copy as unknown as StateMachineDefinition, maps };
}

function checkDistributedMap(name: string, map: MapStateFields, topLanguage: unknown, labels: Set<string>) {
  const processor = (map.ItemProcessor ?? map.Iterator)!;
  if ((map.QueryLanguage ?? topLanguage) === 'JSONata') {
    throw new Error(`Local mode runs Distributed Map states written with JSONPath only (state "${name}")`);
  }
  if (processor.ProcessorConfig?.ExecutionType !== 'STANDARD') {
    throw new Error(
      `Local mode runs Distributed Map child workflows of ExecutionType STANDARD only (state "${name}")`,
    );
  }
  for (const field of NOT_RUN_LOCALLY) {
    if (field in map)
      throw new Error(`Local mode cannot run the ${field} of Distributed Map state "${name}"`);
  }
  for (const [literal, path] of [
    ['MaxConcurrency', 'MaxConcurrencyPath'],
    ['ToleratedFailureCount', 'ToleratedFailureCountPath'],
    ['ToleratedFailurePercentage', 'ToleratedFailurePercentagePath'],
    ['ItemSelector', 'Parameters'],
  ] as const) {
    if (literal in map && path in map) invalid(name, path, `cannot be given with ${literal}`);
  }
  const { MaxConcurrency, ToleratedFailureCount, ToleratedFailurePercentage, Label } = map;
  if (
    MaxConcurrency !== undefined &&
    !(
      Number.isInteger(MaxConcurrency) &&
      MaxConcurrency >= 0 &&
      MaxConcurrency <= DISTRIBUTED_MAX_CONCURRENCY
    )
  ) {
    invalid(name, 'MaxConcurrency', `must be an integer from 0 to ${DISTRIBUTED_MAX_CONCURRENCY}`);
  }
  if (
    ToleratedFailureCount !== undefined &&
    !(Number.isInteger(ToleratedFailureCount) && ToleratedFailureCount >= 0)
  ) {
    invalid(name, 'ToleratedFailureCount', 'must be a non-negative integer');
  }
  if (
    ToleratedFailurePercentage !== undefined &&
    !(
      typeof ToleratedFailurePercentage === 'number' &&
      ToleratedFailurePercentage >= 0 &&
      ToleratedFailurePercentage <= 100
    )
  ) {
    invalid(name, 'ToleratedFailurePercentage', 'must be a number from 0 to 100');
  }
  if (Label !== undefined) {
    if (!isValidLabel(Label)) {
      throw new Error(
        `Invalid State Machine Definition: 'INVALID_LABEL_NAME: the Label of state "${name}" must be 1 to 40 characters, without whitespace, brackets, wildcards, punctuation or control characters'`,
      );
    }
    if (labels.has(Label)) {
      throw new Error(
        `Invalid State Machine Definition: 'DUPLICATE_LABEL_NAME: the Label "${Label}" is used more than once'`,
      );
    }
    labels.add(Label);
  }
}

function invalid(stateName: string, field: string, rule: string): never {
  throw new Error(
    `Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: the field "${field}" ${rule} at /States/${stateName}/${field}'`,
  );
}

/** The Task that stands in for a Distributed Map state in the library's definition. */
function standIn(map: MapStateFields): Json {
  const kept: Json = {};
  for (const field of ['Comment', 'InputPath', 'ResultSelector', 'ResultPath', 'OutputPath', 'Next', 'End']) {
    if (field in map) kept[field] = map[field];
  }
  // States.TaskFailed matches Task states only; the stand-in is a Task to the library, the state is not.
  const taskOnly = (handlers: unknown) =>
    (handlers as { ErrorEquals: string[] }[]).map((handler) => ({
      ...handler,
      ErrorEquals: handler.ErrorEquals.map((name) =>
        name === 'States.TaskFailed' ? 'States.TaskFailed (Task states only)' : name,
      ),
    }));
  if (map.Retry) kept.Retry = taskOnly(map.Retry);
  if (map.Catch) kept.Catch = taskOnly(map.Catch);
  return {
    ...kept,
    Type: 'Task',
    Resource: DISTRIBUTED_MAP_RESOURCE,
    TimeoutSeconds: STAND_IN_TIMEOUT_SECONDS,
  };
}

/** Without a Label, a label from the state name: the name itself when it is a valid label. */
export function labelOf(stateName: string): string {
  if (isValidLabel(stateName)) return stateName;
  return createHash('sha256').update(stateName).digest('hex').slice(0, 16);
}

/** Labels: 1-40 characters, no whitespace, brackets, wildcards, punctuation or control characters. */
function isValidLabel(label: unknown): boolean {
  if (typeof label !== 'string' || label.length < 1 || label.length > 40 || LABEL_FORBIDDEN.test(label)) {
    return false;
  }
  return [...label].every((character) => {
    const code = character.charCodeAt(0);
    return code >= 0x20 && !(code >= 0x7f && code <= 0x9f);
  });
}
