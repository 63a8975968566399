import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { commandTimeouts } from '#core/command-timeouts';
import {
  DEFAULT_AGENT_HOME,
  DEFAULT_CONTROL_SCRIPT,
  HOST_PARAMETER_MAX_LENGTH,
  HOST_PARAMETER_PATTERNS,
  isValidHostParameter,
} from '#core/host-parameters';
import { SCRIPT_WAIT_SETTINGS, type ScriptWait } from '#core/script-waits';
import { RESTART_SUBTASKS } from '#core/subtasks';
import { type DemoHost, demoAgentProcesses } from '#local/demo-hosts';
import {
  AgentParameterValidationFailed,
  type CommandDocument,
  commandDocuments,
  InvalidParameters,
  renderRunCommand,
  type SsmCommandDocumentContent,
} from '../../host-scripts/command-documents.ts';
import { demoRoot, scriptEnv, startedDemoHost } from './host-script-harness.ts';

function documentFor(key: CommandDocument['key']): CommandDocument {
  const document = commandDocuments().find((candidate) => candidate.key === key);
  if (!document) throw new Error(`No document ${key}`);
  return document;
}

const HOSTILE_AGENT_HOMES = [
  '/tmp/x; rm -rf /',
  '/a/../etc',
  '$(id)',
  '/tmp/$(id)',
  '`id`',
  '/tmp/`id`',
  "'quote",
  "/tmp/it's",
  '/tmp/a b',
  '/tmp/x\n',
  '/tmp/x\nid',
  'relative/path',
  '',
];

describe('commandDocuments', () => {
  it('gives the five subtask documents in order, then agentStatus', () => {
    expect(commandDocuments().map((document) => document.key)).toEqual([
      ...RESTART_SUBTASKS.map((subtask) => subtask.key),
      'agentStatus',
    ]);
  });

  it('gives each document its subtask’s script and the execution timeout that fits its subtask, and agentStatus 30 seconds', () => {
    const documents = commandDocuments();

    RESTART_SUBTASKS.forEach((subtask, index) => {
      const document = documents[index];
      const { executionTimeoutSeconds } = commandTimeouts(subtask.timeoutSeconds);
      expect(document?.script).toBe(subtask.script);
      expect(document?.timeoutSeconds).toBe(executionTimeoutSeconds);
      expect(document?.content.mainSteps[0]?.inputs.timeoutSeconds).toBe(executionTimeoutSeconds);
      expect(executionTimeoutSeconds).toBeLessThan(subtask.timeoutSeconds - 30);
    });
    expect(documentFor('agentStatus').content.mainSteps[0]?.inputs.timeoutSeconds).toBe(30);
  });

  it('sets each subtask’s waits, as literal seconds, right after the exports: what runs on the host is its budget', () => {
    const documents = commandDocuments();

    RESTART_SUBTASKS.forEach((subtask, index) => {
      const runCommand = documents[index]?.content.mainSteps[0]?.inputs.runCommand ?? [];
      const waitLines = (Object.keys(SCRIPT_WAIT_SETTINGS) as ScriptWait[]).flatMap((wait) => {
        const seconds = subtask.scriptWaits[wait];
        return seconds === undefined ? [] : [`readonly ${SCRIPT_WAIT_SETTINGS[wait]}=${seconds}`];
      });
      expect(runCommand.slice(3, 3 + waitLines.length), subtask.key).toEqual(waitLines);
      expect(
        runCommand.filter((line) => /^readonly [A-Z_]+_SECONDS=/.test(line)),
        subtask.key,
      ).toEqual(waitLines);
    });
    expect(documentFor('restartPosProxy').content.mainSteps[0]?.inputs.runCommand.slice(3, 6)).toEqual([
      'readonly STOP_GRACE_SECONDS=5',
      'readonly KILL_WAIT_SECONDS=2',
      'readonly START_WAIT_SECONDS=10',
    ]);
    expect(documentFor('agentStatus').content.mainSteps[0]?.inputs.runCommand.join('\n')).not.toMatch(
      /_SECONDS=/,
    );
  });

  it('gives each script exactly the waits it requires, and has it stop and start at most once (the budget counts each wait once)', () => {
    for (const subtask of RESTART_SUBTASKS) {
      const script = readFileSync(new URL(`../../host-scripts/${subtask.script}`, import.meta.url), 'utf8');
      const required = /^require_waits (.+)$/m.exec(script)?.[1]?.split(' ') ?? [];
      const given = (Object.keys(subtask.scriptWaits) as ScriptWait[]).map(
        (wait) => SCRIPT_WAIT_SETTINGS[wait],
      );

      expect(required.sort(), subtask.script).toEqual(given.sort());
      expect(script.match(/\bstop_processes\b/g)?.length ?? 0, subtask.script).toBeLessThanOrEqual(1);
      expect(script.match(/\bstart_processes\b/g)?.length ?? 0, subtask.script).toBeLessThanOrEqual(1);
    }
  });

  it('declares agentHome and controlScript with their defaults and allowed patterns in a schema 2.2 shell document', () => {
    for (const { content } of commandDocuments()) {
      expect(content.schemaVersion).toBe('2.2');
      expect(content.parameters).toEqual({
        agentHome: {
          type: 'String',
          description: expect.any(String),
          default: DEFAULT_AGENT_HOME,
          allowedPattern: HOST_PARAMETER_PATTERNS.agentHome,
          maxChars: HOST_PARAMETER_MAX_LENGTH.agentHome,
        },
        controlScript: {
          type: 'String',
          description: expect.any(String),
          default: DEFAULT_CONTROL_SCRIPT,
          allowedPattern: HOST_PARAMETER_PATTERNS.controlScript,
          maxChars: HOST_PARAMETER_MAX_LENGTH.controlScript,
        },
      });
      expect(content.mainSteps).toHaveLength(1);
      expect(content.mainSteps[0]?.action).toBe('aws:runShellScript');
    }
  });

  it('runs each script under bash with AGENT_HOME and CONTROL_SCRIPT exported and the shared library inlined', () => {
    for (const { content } of commandDocuments()) {
      const runCommand = content.mainSteps[0]?.inputs.runCommand ?? [];
      expect(runCommand.slice(0, 3)).toEqual([
        '#!/usr/bin/env bash',
        "export AGENT_HOME='{{ agentHome }}'",
        "export CONTROL_SCRIPT='{{ controlScript }}'",
      ]);
      expect(runCommand.join('\n')).not.toContain('source ');
      expect(runCommand).toContain('readonly EXIT_INSTALL_BROKEN=2');
    }
  });

  it('accepts install paths as agentHome', () => {
    for (const path of [DEFAULT_AGENT_HOME, '/tmp/demo-hosts-Ab12_x/host-7/ocp_agent', '/opt/ocp.agent-2']) {
      expect(isValidHostParameter('agentHome', path), path).toBe(true);
    }
  });

  it.each([...HOSTILE_AGENT_HOMES, `/${'a'.repeat(299)}`])('refuses the agentHome %j', (value) => {
    expect(isValidHostParameter('agentHome', value)).toBe(false);
  });

  it.each(['bin/ocp_agentctl', 'sbin/ocp-agent.sh', 'ctl'])('accepts the control script %j', (value) => {
    expect(isValidHostParameter('controlScript', value)).toBe(true);
  });

  it.each([
    '/bin/ocp_agentctl',
    '../../bin/sh',
    'bin/../../x',
    'bin/ctl; reboot',
    '$(id)',
    '`id`',
    "bin/ctl'",
    'bin/ctl\n',
    'bin/ctl x',
    'a'.repeat(200),
    '',
  ])('refuses the control script %j', (value) => {
    expect(isValidHostParameter('controlScript', value)).toBe(false);
  });
});

describe('renderRunCommand', () => {
  const { content } = documentFor('stopAgent');

  it('substitutes the agentHome parameter', () => {
    const text = renderRunCommand(content, { agentHome: '/data/ocp_agent' });

    expect(text.split('\n')[1]).toBe("export AGENT_HOME='/data/ocp_agent'");
    expect(text).not.toContain('{{');
  });

  it('substitutes placeholders written with or without spaces', () => {
    const text = renderRunCommand(
      {
        ...content,
        mainSteps: [
          {
            ...content.mainSteps[0]!,
            inputs: { timeoutSeconds: 1, runCommand: ['echo {{agentHome}} {{ agentHome }}'] },
          },
        ],
      },
      { agentHome: '/x' },
    );

    expect(text).toBe('echo /x /x');
  });

  it('applies the default when agentHome is not given', () => {
    expect(renderRunCommand(content, {}).split('\n')[1]).toBe(`export AGENT_HOME='${DEFAULT_AGENT_HOME}'`);
  });

  it.each(HOSTILE_AGENT_HOMES)('refuses agentHome %j as the agent does', (value) => {
    expect(() => renderRunCommand(content, { agentHome: value })).toThrow(AgentParameterValidationFailed);
    expect(() => renderRunCommand(content, { agentHome: value })).toThrow(
      `all errors during param validation errors: error thrown in 'AllowedRegexParamValidator' while validating parameter /agentHome/: parameter value /${value}/ does not match the allowed pattern /${HOST_PARAMETER_PATTERNS.agentHome}/`,
    );
  });

  it('fails, with Go’s compile error, a document whose allowedPattern RE2 cannot compile', () => {
    const lookahead: SsmCommandDocumentContent = {
      ...content,
      parameters: {
        ...content.parameters,
        agentHome: { ...content.parameters.agentHome!, allowedPattern: '^/(?!.*\\.\\.).+$' },
      },
    };

    expect(() => renderRunCommand(lookahead, { agentHome: '/opt/agent' })).toThrow(
      "error thrown in 'AllowedRegexParamValidator' while validating parameter /agentHome/: encountered error while compiling allowed pattern - internal error: error parsing regexp: invalid or unsupported Perl syntax: `(?!`",
    );
  });

  it('leaves length to SendCommand: the agent checks only the pattern', () => {
    const long = `/${'a'.repeat(HOST_PARAMETER_MAX_LENGTH.agentHome)}`;

    expect(renderRunCommand(content, { agentHome: long }).split('\n')[1]).toBe(`export AGENT_HOME='${long}'`);
  });

  it('refuses a parameter the document does not declare', () => {
    expect(() => renderRunCommand(content, { agentHome: '/x', commands: 'id' })).toThrow(InvalidParameters);
  });
});

describe('the rendered documents on a demo host', () => {
  let root: ReturnType<typeof demoRoot>;
  let host: DemoHost;

  beforeEach(async () => {
    root = demoRoot();
    host = await startedDemoHost(root.root, 2);
  });

  afterEach(async () => {
    await root.cleanUp();
  });

  function runDocument(key: CommandDocument['key']) {
    return spawnSync(
      'bash',
      ['-c', renderRunCommand(documentFor(key).content, { agentHome: host.agentHome })],
      {
        cwd: host.hostDir,
        env: scriptEnv({}),
        encoding: 'utf8',
        timeout: 20_000,
      },
    );
  }

  it('restart the agent, as the SSM emulator runs them', () => {
    const before = demoAgentProcesses(host).map((agentProcess) => agentProcess.pid);

    for (const subtask of RESTART_SUBTASKS) {
      const result = runDocument(subtask.key);
      expect(result.stderr, subtask.key).toBe('');
      expect(result.status, subtask.key).toBe(0);
    }

    const after = demoAgentProcesses(host);
    expect(after.every((agentProcess) => agentProcess.running)).toBe(true);
    expect(after.map((agentProcess) => agentProcess.pid).filter((pid) => before.includes(pid))).toEqual([]);
  });

  it('report the agent status as one JSON line', () => {
    const result = runDocument('agentStatus');

    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ processes: demoAgentProcesses(host) });
  });
});
