import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { ListCommandsCommand, SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm';
import { marshall } from '@aws-sdk/util-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { matchesAllowedPattern } from '../../functions/core/allowed-pattern.ts';
import { RESTART_REQUESTED_EVENT } from '../../functions/core/event-patterns.ts';
import {
  HOST_PARAMETER_PATTERNS,
  type HostParameter,
  isValidHostParameter,
} from '../../functions/core/host-parameters.ts';
import { commandDocuments, renderRunCommand } from '../../host-scripts/command-documents.ts';
import type { LocalSystem } from '../../local/local-system.ts';
import { startTestSystem, tokenFor } from '../support/local-client.ts';
import { recordFigure } from './support/figures.ts';
import { rawRequest } from './support/raw-http.ts';
import { scanAll, tableClient } from './support/tables.ts';

/**
 * Nothing from a request or an event reaches a host's shell unvalidated. Statically: every document
 * parameter has an anchored allowedPattern, is substituted only inside single quotes, and the scripts
 * quote their expansions (shellcheck when installed, and a small quoting check always). Dynamically:
 * shell metacharacters, traversal and over-long values in every field that travels to a host are
 * refused, no command is sent with them, and a canary file an injected `touch` would create never
 * appears — while the same payload, rendered without validation, does create it.
 */

const HOST_SCRIPTS = join(__dirname, '..', '..', 'host-scripts');
const DOCUMENTS = commandDocuments();
const PARAMETERS = Object.keys(HOST_PARAMETER_PATTERNS) as HostParameter[];
const hasShellcheck = spawnSync('shellcheck', ['--version']).status === 0;

let canaryDir: string;
let system: LocalSystem;
let client: DynamoDBClient;
let ssm: SSMClient;
let token: string;

beforeAll(async () => {
  canaryDir = mkdtempSync(join(tmpdir(), 'ocp-canary-'));
  system = await startTestSystem({ demoHosts: 2, demoMode: 'fast' });
  client = tableClient(system);
  ssm = new SSMClient({
    endpoint: system.awsEndpointUrl,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  token = await tokenFor(system, 'mallory', ['HOST_MANAGER', 'HOST_VIEWER', 'TASK_MANAGER']);
});

afterAll(async () => {
  ssm?.destroy();
  client?.destroy();
  await system?.stop();
  rmSync(canaryDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// Payloads: each would create `<canary>/<name>` if it reached a shell unquoted or unvalidated.

let payloadCount = 0;
function payloads(prefix: string): string[] {
  const canary = () => `${canaryDir}/pwned-${payloadCount++}`;
  const injections = [
    () => `'; touch ${canary()}; '`,
    () => `'$(touch ${canary()})'`,
    () => `$(touch ${canary()})`,
    () => `\`touch ${canary()}\``,
    () => `"; touch ${canary()}; "`,
    () => `; touch ${canary()}`,
    () => `| touch ${canary()}`,
    () => `&& touch ${canary()}`,
    () => `\ntouch ${canary()}`,
    () => `\r\ntouch ${canary()}`,
    () => `$'\\x27'; touch ${canary()}`,
    () => `\${IFS}touch\${IFS}${canary()}`,
    () => `{{ agentHome }}$(touch ${canary()})`,
    () => `> ${canary()}`,
  ];
  const fixed = [
    '../../../../etc',
    '/opt/agent/../../etc',
    '/opt/..',
    '..',
    '/opt/a b',
    '/opt/a\tb',
    '/opt/a\nb',
    '/opt/a\n',
    '/opt/a\u0000b',
    '/opt/ａgent',
    '/opt/a%20b',
    `/${'a'.repeat(300)}`,
    'a'.repeat(5_000),
    '',
    '*',
    '~root',
    '-rf',
  ];
  return [...injections.map((make) => `${prefix}${make()}`), ...injections.map((make) => make()), ...fixed];
}

/** Generated hostile values: metacharacters spliced into plausible paths and ids. */
const generatedPayloads = (count: number, seed: number) =>
  fc.sample(
    fc
      .tuple(
        fc.constantFrom('/home/admin/ocp_agent', 'bin/ocp_agentctl', 'mi-0123456789abcdef0', '/opt', ''),
        fc.constantFrom(
          ';',
          '|',
          '&',
          '$(',
          '`',
          "'",
          '"',
          '\n',
          '\\',
          '>',
          '<',
          '*',
          '?',
          '..',
          ' ',
          '$',
          '{',
          '}',
        ),
        fc.string({ maxLength: 20 }),
      )
      .map(([base, meta, tail]) => `${base}${meta}touch ${canaryDir}/pwned-generated${tail}`),
    { numRuns: count, seed },
  );

function canaries(): string[] {
  return readdirSync(canaryDir);
}

async function commandCount(): Promise<number> {
  let count = 0;
  let nextToken: string | undefined;
  do {
    const page = await ssm.send(new ListCommandsCommand({ MaxResults: 50, NextToken: nextToken }));
    count += page.Commands?.length ?? 0;
    nextToken = page.NextToken;
  } while (nextToken);
  return count;
}

// ---------------------------------------------------------------------------------------------

describe('static: nothing reaches a shell unquoted', () => {
  it('every parameter of every SSM document declares an anchored allowedPattern that, under RE2 (the agent’s engine), refuses quotes and metacharacters', () => {
    const checked: string[] = [];
    for (const document of DOCUMENTS) {
      for (const [name, parameter] of Object.entries(document.content.parameters)) {
        const pattern = parameter.allowedPattern;
        expect(pattern, `${document.key}.${name}`).toBeDefined();
        expect(pattern!.startsWith('^'), `${document.key}.${name} is anchored at the start`).toBe(true);
        expect(pattern!.endsWith('\\z'), `${document.key}.${name} is anchored at the very end`).toBe(true);
        for (const bad of [
          "'",
          '"',
          '`',
          '$',
          ';',
          '|',
          '&',
          '\n',
          ' ',
          '\\',
          '(',
          ')',
          '<',
          '>',
          '*',
          '..',
        ]) {
          expect(
            matchesAllowedPattern(pattern!, `${parameter.default ?? 'x'}${bad}`),
            `${document.key}.${name} refuses ${JSON.stringify(bad)}`,
          ).toBe(false);
        }
        checked.push(`${document.key}.${name}`);
      }
    }
    recordFigure({
      family: 'shell (static)',
      case: 'document parameters with anchored allowedPattern',
      tried: checked.length,
      passed: checked.length,
      detail: `${DOCUMENTS.length} documents; each pattern refuses 16 metacharacters after a valid value`,
    });
  });

  it('substitutes every parameter only inside single quotes, in an export line of its own', () => {
    let placeholders = 0;
    for (const document of DOCUMENTS) {
      for (const line of document.content.mainSteps.flatMap((step) => step.inputs.runCommand)) {
        if (!line.includes('{{')) continue;
        placeholders++;
        expect(line, document.key).toMatch(/^export [A-Z_]+='\{\{ [A-Za-z0-9_]+ \}\}'$/);
      }
    }
    expect(placeholders).toBe(DOCUMENTS.length * Object.keys(DOCUMENTS[0]!.content.parameters).length);
  });

  it.runIf(hasShellcheck)('shellcheck finds nothing in the scripts and in every rendered document', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ocp-shellcheck-'));
    const files = DOCUMENTS.map((document) => {
      const file = join(dir, `${document.key}.sh`);
      writeFileSync(file, renderRunCommand(document.content, {}));
      return file;
    });
    // SC2034 (unused variable) is the shared library's exit codes unused by one script: not a quoting matter.
    const rendered = spawnSync(
      'shellcheck',
      ['--shell=bash', '--severity=style', '--exclude=SC2034', ...files],
      {
        encoding: 'utf8',
      },
    );
    const sources = readdirSync(HOST_SCRIPTS)
      .filter((file) => file.endsWith('.sh'))
      .map((file) => join(HOST_SCRIPTS, file));
    const scripts = spawnSync('shellcheck', ['-x', '--severity=style', '--exclude=SC2034', ...sources], {
      encoding: 'utf8',
      cwd: HOST_SCRIPTS,
    });

    rmSync(dir, { recursive: true, force: true });

    expect(rendered.stdout).toBe('');
    expect(scripts.stdout).toBe('');
    recordFigure({
      family: 'shell (static)',
      case: 'shellcheck (installed with apt-get)',
      tried: files.length + sources.length,
      passed: files.length + sources.length,
      detail: `${files.length} rendered documents and ${sources.length} scripts, all severities, SC2034 excluded`,
    });
  });

  it('quotes every expansion of a value that came from a parameter (built-in check, always run)', () => {
    // The check can fail: it finds the unquoted expansions of a bad line.
    expect(
      unquotedExpansions('cd $AGENT_HOME && ls "$AGENT_HOME"/bin', ['AGENT_HOME']).unquoted,
    ).toHaveLength(1);
    expect(
      unquotedExpansions('rm -rf $AGENT_HOME/x "$(ls $AGENT_HOME)"', ['AGENT_HOME']).unquoted,
    ).toHaveLength(2);
    expect(unquotedExpansions('[[ -d $AGENT_HOME ]] && x=$AGENT_HOME', ['AGENT_HOME']).unquoted).toHaveLength(
      0,
    );
    const findings: string[] = [];
    let expansions = 0;
    for (const document of DOCUMENTS) {
      const text = renderRunCommand(document.content, {});
      const variables = [...text.matchAll(/^export ([A-Z_]+)='/gm)].map((match) => match[1]!);
      const result = unquotedExpansions(text, variables);
      expansions += result.checked;
      findings.push(...result.unquoted.map((finding) => `${document.key}: ${finding}`));
    }
    expect(findings).toEqual([]);
    expect(expansions).toBeGreaterThan(10);
    recordFigure({
      family: 'shell (static)',
      case: 'built-in quoting check',
      tried: expansions,
      passed: expansions - findings.length,
      detail: 'expansions of the exported parameters in the rendered documents, each inside "…" or [[ … ]]',
    });
  });

  it('a value any pattern accepts reaches bash byte for byte inside its single quotes (property)', () => {
    const candidates = fc.sample(
      fc.string({
        unit: fc.constantFrom(
          ...'abcXYZ019_./-'.split(''),
          "'",
          '"',
          '$',
          '`',
          ' ',
          '\\',
          ';',
          '\n',
          '(',
          ')',
        ),
        minLength: 1,
        maxLength: 40,
      }),
      { numRuns: 20_000, seed: 7 },
    );
    const accepted = PARAMETERS.flatMap((name) =>
      candidates
        .map((candidate) =>
          name === 'agentHome' ? `/${candidate}` : name === 'instanceId' ? candidate : candidate,
        )
        .filter((value) => isValidHostParameter(name, value)),
    ).slice(0, 3_000);
    const script = accepted.map((value) => `export V='${value}'; printf '%s\\0' "$V"`).join('\n');

    const run = spawnSync('bash', ['-c', script], { encoding: 'utf8', cwd: canaryDir });

    expect(accepted.length).toBeGreaterThan(500);
    expect(run.stdout.split('\0').slice(0, -1)).toEqual(accepted);
    expect(canaries()).toEqual([]);
    recordFigure({
      family: 'shell (static)',
      case: 'accepted values survive bash quoting (property)',
      tried: accepted.length,
      passed: accepted.length,
      detail: 'generated from an alphabet with quotes and metacharacters; kept those a pattern accepts',
    });
  });
});

describe('dynamic: hostile values in every field that travels to a host', () => {
  it('the canary works: the same payload rendered without validation does create its file', () => {
    const document = DOCUMENTS.find((d) => d.key === 'prepare')!;
    const probe = `${canaryDir}/control`;
    const unvalidated = document.content.mainSteps[0]!.inputs.runCommand.join('\n').replace(
      /\{\{ agentHome \}\}/g,
      `/nowhere'; touch ${probe}; '`,
    );
    spawnSync('bash', ['-c', unvalidated], { encoding: 'utf8' });

    expect(existsSync(probe)).toBe(true);
    spawnSync('rm', ['-f', probe]);
  });

  it('refuses hostile host ids in the path with 400, sending no command', async () => {
    const before = await commandCount();
    const values = [...payloads('1'), ...generatedPayloads(100, 1)].filter((value) => value !== '');
    const answers = await Promise.all(
      values.flatMap((value) =>
        [
          ['POST', `/compute/hosts/${encodeURIComponent(value)}/agent/restart`],
          ['GET', `/compute/hosts/${encodeURIComponent(value)}/agent`],
        ].map(([method, path]) =>
          rawRequest(system.apiUrl, {
            method: method!,
            path: path!,
            headers: { authorization: `Bearer ${token}` },
          }),
        ),
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 500));

    expect(answers.map((answer) => answer.status).filter((status) => status !== 400)).toEqual([]);
    expect(await commandCount()).toBe(before);
    expect(canaries()).toEqual([]);
    recordFigure({
      family: 'shell (dynamic)',
      case: 'hostId in the path (HTTP)',
      tried: answers.length,
      passed: answers.length,
      detail: '400/10001 for each; no SSM command sent, no canary',
    });
  });

  it('refuses hostile body fields with 400, sending no command', async () => {
    const before = await commandCount();
    const values = [...payloads('x'), ...generatedPayloads(60, 2)];
    const bodies = values.flatMap((value) => [
      { prohibitRollback: value },
      { prohibitRollback: false, agentHome: value },
      { prohibitRollback: false, instanceId: value },
      { prohibitRollback: false, controlScript: value },
      { hostId: value },
    ]);
    const answers = await Promise.all(
      bodies.map((body) =>
        rawRequest(system.apiUrl, {
          method: 'POST',
          path: '/compute/hosts/1/agent/restart',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        }),
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 500));

    expect(answers.map((answer) => answer.status).filter((status) => status !== 400)).toEqual([]);
    expect(await commandCount()).toBe(before);
    expect(canaries()).toEqual([]);
    recordFigure({
      family: 'shell (dynamic)',
      case: 'request body fields (HTTP)',
      tried: answers.length,
      passed: answers.length,
      detail: '400/10001 for each (strict body schema); no SSM command sent, no canary',
    });
  });

  it('treats a host registry record with a hostile value as no host: nothing is sent', async () => {
    const registered = (await scanAll(client, system.tables.hostTable)).find((item) => item.hostId === 1)!;
    const records: Record<string, unknown>[] = [];
    let hostId = 5_000;
    for (const parameter of PARAMETERS) {
      for (const value of [...payloads(String(registered[parameter] ?? '')), ...generatedPayloads(20, 3)]) {
        records.push({
          ...registered,
          hostId: hostId++,
          hostname: `hostile-${parameter}`,
          [parameter]: value,
        });
      }
    }
    for (const record of records) {
      await client.send(new PutItemCommand({ TableName: system.tables.hostTable, Item: marshall(record) }));
    }
    const before = await commandCount();
    const tasksBefore = (await scanAll(client, system.tables.taskTable)).length;

    const answers = await Promise.all(
      records.flatMap((record) =>
        [
          ['POST', `/compute/hosts/${record.hostId}/agent/restart`],
          ['GET', `/compute/hosts/${record.hostId}/agent`],
        ].map(([method, path]) =>
          rawRequest(system.apiUrl, {
            method: method!,
            path: path!,
            headers: { authorization: `Bearer ${token}` },
          }),
        ),
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 500));

    const notRefused = answers
      .map((answer, index) => ({ status: answer.status, record: records[Math.floor(index / 2)] }))
      .filter(({ status }) => status !== 404);
    expect(notRefused).toEqual([]);
    expect(await commandCount()).toBe(before);
    expect((await scanAll(client, system.tables.taskTable)).length).toBe(tasksBefore);
    expect(canaries()).toEqual([]);
    recordFigure({
      family: 'shell (dynamic)',
      case: `host registry values (${PARAMETERS.join(', ')})`,
      tried: answers.length,
      passed: answers.length,
      detail: `${records.length} hostile records × restart and status: 404 (no such host), no task, no SSM command, no canary`,
    });
  });

  it('refuses hostile document parameters at SendCommand (real SSMClient, local SSM): nothing runs', async () => {
    const host = system.hosts[0]!;
    const before = await commandCount();
    let tried = 0;
    const accepted: string[] = [];
    for (const document of DOCUMENTS) {
      const documentName = `OcpAgentRestart-${document.key}`;
      const defaults = Object.fromEntries(
        Object.entries(document.content.parameters).map(([name, parameter]) => [
          name,
          [parameter.default ?? ''],
        ]),
      );
      const cases: Record<string, string[]>[] = [];
      for (const name of Object.keys(document.content.parameters)) {
        for (const value of [...payloads(defaults[name]![0]!), ...generatedPayloads(20, 4)]) {
          cases.push({ ...defaults, [name]: [value] });
        }
        cases.push({ ...defaults, [name]: [defaults[name]![0]!, `x; touch ${canaryDir}/pwned-list`] });
      }
      cases.push({ ...defaults, [`agentHome; touch ${canaryDir}/pwned-name`]: ['/tmp'] });
      for (const parameters of cases) {
        tried++;
        try {
          await ssm.send(
            new SendCommandCommand({
              DocumentName: documentName,
              InstanceIds: [host.instanceId],
              Parameters: parameters,
            }),
          );
          accepted.push(`${document.key} ${JSON.stringify(parameters)}`);
        } catch (error) {
          expect((error as Error).name).toMatch(/InvalidParameters|ValidationException/);
        }
      }
      for (const instanceId of payloads('mi-00000000000000001').slice(0, 10)) {
        tried++;
        await expect(
          ssm.send(new SendCommandCommand({ DocumentName: documentName, InstanceIds: [instanceId] })),
        ).rejects.toThrow();
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000));

    expect(accepted).toEqual([]);
    expect(await commandCount()).toBe(before);
    expect(canaries()).toEqual([]);
    recordFigure({
      family: 'shell (dynamic)',
      case: 'SSM document parameters (SendCommand)',
      tried,
      passed: tried - accepted.length,
      detail: `${DOCUMENTS.length} documents: each declared parameter, a list value, an undeclared name and hostile instance ids; all refused, no command, no canary`,
    });
  });

  it('run-subtask refuses a tampered execution input before it sends anything', async () => {
    const { handler } = (await import('../../functions/run-subtask.ts')) as {
      handler: (event: unknown) => Promise<unknown>;
    };
    const host = system.hosts[0]!;
    const valid: Record<string, unknown> = {
      taskId: 1,
      subtaskIndex: 0,
      taskToken: 'token',
      instanceId: host.instanceId,
      agentHome: host.agentHome,
      ...Object.fromEntries(
        Object.entries(DOCUMENTS[0]!.content.parameters)
          .filter(([name]) => name !== 'agentHome')
          .map(([name, parameter]) => [name, parameter.default]),
      ),
    };
    const before = await commandCount();
    let tried = 0;
    for (const parameter of PARAMETERS) {
      for (const value of [...payloads(String(valid[parameter] ?? '')), ...generatedPayloads(10, 5)]) {
        tried++;
        await expect(handler({ ...valid, [parameter]: value })).rejects.toThrow();
      }
    }

    expect(await commandCount()).toBe(before);
    expect(canaries()).toEqual([]);
    recordFigure({
      family: 'shell (dynamic)',
      case: 'run-subtask input (direct handler call)',
      tried,
      passed: tried,
      detail: `hostile ${PARAMETERS.join(', ')} in the execution input: each refused by the input schema, no command`,
    });
  });

  it('refuses restart-request events with a hostile host id (EventBridge trigger, direct handler call)', async () => {
    const { handler } = (await import('../../functions/restart-trigger.ts')) as {
      handler: (event: unknown) => Promise<unknown>;
    };
    const before = await commandCount();
    const tasksBefore = (await scanAll(client, system.tables.taskTable)).filter(
      (item) => item.sk === 'TASK',
    ).length;
    const values = [...payloads('2'), ...generatedPayloads(30, 6)];
    const details = values.map((value) => ({ hostId: value }));
    let tried = 0;
    for (const detail of details) {
      tried++;
      await handler({
        version: '0',
        id: `hostile-${tried}`,
        source: RESTART_REQUESTED_EVENT.source,
        'detail-type': RESTART_REQUESTED_EVENT.detailType,
        account: '000000000000',
        time: new Date().toISOString(),
        region: 'us-east-1',
        resources: [],
        detail,
      }).catch(() => undefined);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));

    expect((await scanAll(client, system.tables.taskTable)).filter((item) => item.sk === 'TASK').length).toBe(
      tasksBefore,
    );
    expect(await commandCount()).toBe(before);
    expect(canaries()).toEqual([]);
    recordFigure({
      family: 'shell (dynamic)',
      case: 'restart-request events (hostId)',
      tried,
      passed: tried,
      detail: 'each rejected by the trigger’s schema or id check: no task, no SSM command, no canary',
    });
  });

  it('leaves no canary anywhere in the demo hosts', () => {
    const found = spawnSync('find', [system.hostRoot, canaryDir, '-name', 'pwned*'], { encoding: 'utf8' });
    expect(found.stdout.trim()).toBe('');
    expect(readFileSync('/etc/hostname', 'utf8')).not.toContain('pwned');
  });
});

/**
 * A small quoting check: every `$NAME` / `${NAME…}` of the given variables must be inside double
 * quotes (a `$( … )` inside them opens a fresh quoting context) or inside `[[ … ]]`.
 */
function unquotedExpansions(text: string, variables: string[]): { checked: number; unquoted: string[] } {
  const unquoted: string[] = [];
  let checked = 0;
  const names = new Set(variables);
  text.split('\n').forEach((line, lineIndex) => {
    // Frames: one per $( … ) nesting level, each with its own quote state.
    const frames: { single: boolean; double: boolean }[] = [{ single: false, double: false }];
    let brackets = 0;
    for (let i = 0; i < line.length; i++) {
      const frame = frames.at(-1)!;
      const char = line[i]!;
      const rest = line.slice(i);
      if (frame.single) {
        if (char === "'") frame.single = false;
        continue;
      }
      if (char === '\\') {
        i++;
        continue;
      }
      if (!frame.double && char === '#' && (i === 0 || /\s/.test(line[i - 1]!))) break;
      if (!frame.double && char === "'") {
        frame.single = true;
        continue;
      }
      if (char === '"') {
        frame.double = !frame.double;
        continue;
      }
      if (rest.startsWith('$(') && !rest.startsWith('$((')) {
        frames.push({ single: false, double: false });
        i++;
        continue;
      }
      if (char === ')' && frames.length > 1 && !frame.double) {
        frames.pop();
        continue;
      }
      if (!frame.double && rest.startsWith('[[')) brackets++;
      if (!frame.double && rest.startsWith(']]')) brackets = Math.max(0, brackets - 1);
      const expansion = /^\$\{?([A-Za-z_][A-Za-z0-9_]*)/.exec(rest);
      if (expansion && names.has(expansion[1]!)) {
        checked++;
        const assignment = /(^|\s)(local\s+)?[A-Za-z_][A-Za-z0-9_]*=$/.test(line.slice(0, i));
        if (!frame.double && brackets === 0 && !assignment)
          unquoted.push(`line ${lineIndex + 1}: ${line.trim()}`);
      }
    }
  });
  return { checked, unquoted };
}
