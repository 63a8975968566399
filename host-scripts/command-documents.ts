import { readFileSync } from 'node:fs';
import { AllowedPatternSyntaxError, matchesAllowedPattern } from '#core/allowed-pattern';
import { commandTimeouts } from '#core/command-timeouts';
import {
  DEFAULT_AGENT_HOME,
  DEFAULT_CONTROL_SCRIPT,
  HOST_PARAMETER_MAX_LENGTH,
  HOST_PARAMETER_PATTERNS,
} from '#core/host-parameters';
import {
  checkedScriptWaits,
  SCRIPT_WAIT_SETTINGS,
  type ScriptWait,
  type ScriptWaits,
} from '#core/script-waits';
import { RESTART_SUBTASKS } from '#core/subtasks';
import type { CommandDocumentKey } from '../functions/runtime-config.ts';

export type { CommandDocumentKey };

/** One declared parameter of an SSM document. */
export interface SsmDocumentParameter {
  type: 'String';
  description: string;
  default?: string;
  allowedPattern?: string;
  /** Checked by SSM at SendCommand (the agent checks only allowedPattern). */
  maxChars?: number;
}

/** The `aws:runShellScript` step of a Command document. */
export interface SsmRunShellScriptStep {
  action: 'aws:runShellScript';
  name: string;
  precondition: { StringEquals: ['platformType', 'Linux'] };
  inputs: { timeoutSeconds: number; runCommand: string[] };
}

/** Content of an SSM Command document, schema 2.2 (what CfnDocument's `content` takes). */
export interface SsmCommandDocumentContent {
  schemaVersion: '2.2';
  description: string;
  parameters: Record<string, SsmDocumentParameter>;
  mainSteps: SsmRunShellScriptStep[];
}

/** An SSM Command document built from one host script. */
export interface CommandDocument {
  key: CommandDocumentKey;
  /** File name in host-scripts/. */
  script: string;
  /** The step's execution timeout. */
  timeoutSeconds: number;
  content: SsmCommandDocumentContent;
}

/** A parameter value is missing or undeclared (SSM's error name). */
export class InvalidParameters extends Error {
  override readonly name = 'InvalidParameters';
}

/**
 * The SSM Agent refused the document's parameters on the host (an allowedPattern it cannot compile
 * or a value it does not match): the command fails before anything runs, with this message as the
 * document's trace output.
 */
export class AgentParameterValidationFailed extends Error {
  override readonly name = 'AgentParameterValidationFailed';
}

const AGENT_STATUS_TIMEOUT_SECONDS = 30;

/** `source "$(dirname -- "${BASH_SOURCE[0]}")/x.sh"`: replaced by x.sh, so each document stands alone. */
const SOURCE_LINE = /^\s*source "\$\(dirname -- "\$\{BASH_SOURCE\[0\]\}"\)\/([\w.-]+\.sh)"\s*$/;
const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g;

function readScript(file: string): string[] {
  return readFileSync(new URL(`./${file}`, import.meta.url), 'utf8')
    .replace(/\n$/, '')
    .split('\n');
}

/** `readonly STOP_GRACE_SECONDS=5`, one line per wait: literals, so what runs is what was checked. */
function waitLines(waits: ScriptWaits): string[] {
  return (Object.keys(SCRIPT_WAIT_SETTINGS) as ScriptWait[]).flatMap((wait) => {
    const seconds = waits[wait];
    return seconds === undefined ? [] : [`readonly ${SCRIPT_WAIT_SETTINGS[wait]}=${seconds}`];
  });
}

/**
 * The lines SSM runs: the script's shebang first (SSM runs `sh -c _script.sh`, so the kernel
 * honours it and bash runs the script), then the AGENT_HOME and CONTROL_SCRIPT exports and the
 * script's waits, then the rest with the shared library inlined.
 */
function runCommandFor(script: string, waits: ScriptWaits): string[] {
  const [shebang, ...body] = readScript(script);
  if (!shebang?.startsWith('#!')) throw new Error(`host-scripts/${script} must start with a shebang`);
  const lines = body.flatMap((line) => {
    const included = SOURCE_LINE.exec(line)?.[1];
    return included ? readScript(included) : [line];
  });
  const text = lines.join('\n');
  if (text.includes('{{')) {
    throw new Error(`host-scripts/${script} contains "{{", which SSM would read as a parameter`);
  }
  return [
    shebang,
    "export AGENT_HOME='{{ agentHome }}'",
    "export CONTROL_SCRIPT='{{ controlScript }}'",
    ...waitLines(waits),
    ...lines,
  ];
}

function documentContent(
  description: string,
  stepName: string,
  script: string,
  timeoutSeconds: number,
  waits: ScriptWaits,
): SsmCommandDocumentContent {
  return {
    schemaVersion: '2.2',
    description,
    parameters: {
      agentHome: {
        type: 'String',
        description: 'Absolute path of the OCP agent install on the host',
        default: DEFAULT_AGENT_HOME,
        allowedPattern: HOST_PARAMETER_PATTERNS.agentHome,
        maxChars: HOST_PARAMETER_MAX_LENGTH.agentHome,
      },
      controlScript: {
        type: 'String',
        description: 'The agent’s control script, relative to agentHome',
        default: DEFAULT_CONTROL_SCRIPT,
        allowedPattern: HOST_PARAMETER_PATTERNS.controlScript,
        maxChars: HOST_PARAMETER_MAX_LENGTH.controlScript,
      },
    },
    mainSteps: [
      {
        action: 'aws:runShellScript',
        name: stepName,
        precondition: { StringEquals: ['platformType', 'Linux'] },
        inputs: { timeoutSeconds, runCommand: runCommandFor(script, waits) },
      },
    ],
  };
}

/**
 * The five subtask documents in RESTART_SUBTASKS order, then the agent status document. Throws when
 * a subtask's waits do not fit its execution timeout.
 */
export function commandDocuments(): CommandDocument[] {
  const subtaskDocuments = RESTART_SUBTASKS.map((subtask): CommandDocument => {
    const { executionTimeoutSeconds } = commandTimeouts(subtask.timeoutSeconds);
    const waits = checkedScriptWaits(subtask.timeoutSeconds, subtask.scriptWaits);
    return {
      key: subtask.key,
      script: subtask.script,
      timeoutSeconds: executionTimeoutSeconds,
      content: documentContent(
        `OCP agent restart, subtask "${subtask.name}": runs host-scripts/${subtask.script}`,
        subtask.key,
        subtask.script,
        executionTimeoutSeconds,
        waits,
      ),
    };
  });
  const agentStatus: CommandDocument = {
    key: 'agentStatus',
    script: 'agent-status.sh',
    timeoutSeconds: AGENT_STATUS_TIMEOUT_SECONDS,
    content: documentContent(
      'Reports the OCP agent processes as one line of JSON: runs host-scripts/agent-status.sh',
      'agentStatus',
      'agent-status.sh',
      AGENT_STATUS_TIMEOUT_SECONDS,
      {},
    ),
  };
  return [...subtaskDocuments, agentStatus];
}

/**
 * The shell text the SSM Agent would run for `content` with these parameters: each value (or its
 * default) checked against its allowedPattern as the agent checks it (RE2), `{{ name }}`
 * substituted, runCommand lines joined by "\n". Throws InvalidParameters for an undeclared or
 * missing parameter, as SendCommand would, and AgentParameterValidationFailed, with the agent's
 * message, for what the agent refuses.
 */
export function renderRunCommand(
  content: SsmCommandDocumentContent,
  parameters: Record<string, string>,
): string {
  for (const name of Object.keys(parameters)) {
    if (!Object.hasOwn(content.parameters, name)) {
      throw new InvalidParameters(`Parameter ${name} is not declared by the document`);
    }
  }
  const values = new Map<string, string>();
  const refusals: string[] = [];
  for (const [name, declared] of Object.entries(content.parameters)) {
    const value = Object.hasOwn(parameters, name) ? parameters[name] : declared.default;
    if (value === undefined) throw new InvalidParameters(`Parameter ${name} is required`);
    const refusal = declared.allowedPattern && agentRefusal(declared.allowedPattern, value);
    if (refusal) {
      refusals.push(
        `error thrown in 'AllowedRegexParamValidator' while validating parameter /${name}/: ${refusal}`,
      );
    }
    values.set(name, value);
  }
  if (refusals.length > 0) {
    throw new AgentParameterValidationFailed(
      `all errors during param validation errors: ${refusals.join('\n')}`,
    );
  }
  return content.mainSteps
    .flatMap((step) => step.inputs.runCommand)
    .map((line) => line.replace(PLACEHOLDER, (placeholder, name: string) => values.get(name) ?? placeholder))
    .join('\n');
}

/** Why the agent refuses `value` for `pattern` (its wording), or undefined when it accepts it. */
function agentRefusal(pattern: string, value: string): string | undefined {
  try {
    if (matchesAllowedPattern(pattern, value)) return undefined;
  } catch (error) {
    if (!(error instanceof AllowedPatternSyntaxError)) throw error;
    return `encountered error while compiling allowed pattern - internal error: ${error.message}`;
  }
  return `parameter value /${value}/ does not match the allowed pattern /${pattern}/`;
}
