import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { DryRunAnswer } from '../functions/core/batch-dry-run.ts';
import type { AgentStatus } from '../functions/use-cases/get-agent-status.ts';
import { ApiClient } from './api-client.ts';
import { CliFailure, EXIT, EXIT_CODES_HELP } from './exit-codes.ts';
import { commandPrefix, followTask, type OutputMode } from './follow.ts';
import { resolveTarget } from './target.ts';
import { attemptSection, isBatch, liveView, type TaskView, tailLines } from './views.ts';

interface GlobalOptions {
  api?: string;
  token?: string;
  json?: boolean;
}

const TARGET_HELP = `Target:
  --api/--token, else OCP_API_URL/OCP_TOKEN; with neither, the running local mode (npm start):
  its API from .local/endpoints.json (OCP_LOCAL_DIR to change) and a token signed with its key.`;

/** Runs one ocpctl command line; resolves to the exit code. */
export async function run(argv: readonly string[]): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = new Command('ocpctl')
    .description("Restart OCP agents and watch them restart, through OCP's agent restart API")
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text) })
    .option('--api <url>', 'the API to call (default: OCP_API_URL, else the running local mode)')
    .option('--token <jwt>', 'bearer token (default: OCP_TOKEN, else a local mode token)')
    .option('--json', 'print the data as JSON (with --follow: one JSON line per change, then the end)')
    .addHelpText('after', `\n${TARGET_HELP}\n\n${EXIT_CODES_HELP}`)
    .showHelpAfterError();

  /** The action of a subcommand: its exit code is the command's. */
  const action =
    <Args extends unknown[]>(body: (context: Context, ...args: Args) => Promise<number | undefined>) =>
    async (...args: unknown[]) => {
      const command = args[args.length - 1] as Command;
      const globals = command.optsWithGlobals<GlobalOptions>();
      const target = await resolveTarget(globals);
      const mode: OutputMode = globals.json ? 'json' : canRepaint(process.stdout) ? 'live' : 'plain';
      const context: Context = {
        client: new ApiClient(target),
        mode,
        prefix: commandPrefix(globals.api),
      };
      exitCode = (await body(context, ...(args.slice(0, -1) as Args))) ?? EXIT.ok;
    };

  const followOption = () => new Option('-f, --follow', 'follow the task live until it ends');

  program
    .command('restart')
    .description('restart the OCP agent of one host (POST /compute/hosts/{hostId}/agent/restart)')
    .argument('<hostId>', 'the host')
    .option('--prohibit-rollback', 'the task may not be rolled back')
    .addOption(followOption())
    .action(
      action(async (context, hostId: string, options: { prohibitRollback?: boolean; follow?: boolean }) => {
        const task = await context.client.call<TaskView>('restartAgent', {
          path: { hostId },
          ...(options.prohibitRollback ? { body: { prohibitRollback: true } } : {}),
        });
        return started(context, task, options.follow);
      }),
    );

  program
    .command('fleet')
    .description('restart the agents of many hosts as a rollout (POST /compute/hosts/batchRestartAgents)')
    .argument('<hostIds...>', 'the hosts (space- or comma-separated)')
    .option('--max-concurrency <N|P%>', 'hosts restarting at once (default 50)', rolloutLimit)
    .option(
      '--max-errors <N|P%>',
      'failed hosts tolerated before no new host starts (default 0)',
      rolloutLimit,
    )
    .option('--health-check-seconds <S>', "after a host's restart, check its agent again after S s", count)
    .option('--dry-run', 'change nothing: print the plan (hosts, waves, estimate)')
    .addOption(followOption())
    .action(
      action(
        async (
          context,
          hostIds: string[],
          options: {
            maxConcurrency?: number | string;
            maxErrors?: number | string;
            healthCheckSeconds?: number;
            dryRun?: boolean;
            follow?: boolean;
          },
        ) => {
          const rollout = {
            ...(options.maxConcurrency === undefined ? {} : { maxConcurrency: options.maxConcurrency }),
            ...(options.maxErrors === undefined ? {} : { maxErrors: options.maxErrors }),
            ...(options.healthCheckSeconds === undefined
              ? {}
              : { healthCheckSeconds: options.healthCheckSeconds }),
          };
          const body = {
            hostIds: hostList(hostIds),
            ...(Object.keys(rollout).length ? { rollout } : {}),
            ...(options.dryRun ? { dryRun: true } : {}),
          };
          const answer = await context.client.call<TaskView | DryRunAnswer>('batchRestartAgents', { body });
          if ('dryRun' in answer) return printPlan(context, answer);
          return started(context, answer, options.follow);
        },
      ),
    );

  const task = program
    .command('task')
    .description('follow and steer tasks (GET/POST /api/v2/tasks/instances/…)');
  task
    .command('get')
    .description('show a task (a host restart or a batch)')
    .argument('<id>', 'the task')
    .addOption(followOption())
    .action(
      action(async (context, id: string, options: { follow?: boolean }) => {
        if (options.follow) return followTask(context.client, taskNumber(id), context.mode, context.prefix);
        return show(context, await context.client.call<TaskView>('getTask', { path: { id } }));
      }),
    );
  task
    .command('list')
    .description('list tasks, newest first')
    .option('--host <hostId>', "only this host's tasks")
    .addOption(
      new Option('--status <status>', 'only tasks in this status').choices([
        'RUNNING',
        'FAILED',
        'SUCCESSFUL',
      ]),
    )
    .option('--name <name>', 'only tasks of this name')
    .option('--page <n>', 'page, from 1', '1')
    .option('--size <n>', 'tasks per page (at most 100)', '10')
    .action(
      action(
        async (
          context,
          options: { host?: string; status?: string; name?: string; page: string; size: string },
        ) => {
          const answer = await context.client.call<Page<TaskView>>('listTasks', {
            query: {
              hostId: options.host,
              status: options.status,
              name: options.name,
              page: options.page,
              size: options.size,
            },
          });
          if (context.mode === 'json') return printJson(answer);
          const rows = answer.contents.map((entry) => [
            String(entry.id),
            entry.status,
            entry.operation,
            isBatch(entry) || entry.hostId === undefined ? `batch` : `host ${entry.hostId}`,
            entry.startTime,
            entry.name,
          ]);
          printTable(['ID', 'STATUS', 'OPERATION', 'SCOPE', 'STARTED', 'NAME'], rows);
          printPageLine(answer.page);
          return EXIT.ok;
        },
      ),
    );
  task
    .command('log')
    .description("print a subtask's log (stdout and stderr of every attempt)")
    .argument('<id>', 'the task')
    .argument('<subtaskId>', 'the subtask')
    .option('--attempt <n>', 'only this attempt', count)
    .option('--tail <lines>', 'only the last lines', count)
    .action(
      action(async (context, id: string, subtaskId: string, options: { attempt?: number; tail?: number }) => {
        const answer = await context.client.call<{ log: string; truncated: boolean }>('getSubtaskLog', {
          path: { id, subtaskId },
        });
        let log = answer.log;
        if (options.attempt !== undefined) {
          const section = attemptSection(log, options.attempt);
          if (section === undefined) {
            throw new CliFailure(
              `Subtask ${subtaskId} of task ${id} has no attempt ${options.attempt}`,
              EXIT.badInput,
            );
          }
          log = section;
        }
        if (options.tail !== undefined) log = tailLines(log, options.tail).join('\n');
        if (context.mode === 'json') return printJson({ ...answer, log });
        process.stdout.write(log.endsWith('\n') || log === '' ? log : `${log}\n`);
        if (answer.truncated)
          process.stderr.write('Note: SSM cut some of this output (see the line saying so).\n');
        return EXIT.ok;
      }),
    );
  task
    .command('retry')
    .description('resume a FAILED task at its failed subtask (a batch: its failed and never-started hosts)')
    .argument('<id>', 'the task')
    .addOption(followOption())
    .action(
      action(async (context, id: string, options: { follow?: boolean }) =>
        started(context, await context.client.call<TaskView>('retryTask', { path: { id } }), options.follow),
      ),
    );
  task
    .command('skip')
    .description('mark a FAILED subtask SUCCESSFUL and go on from the next')
    .argument('<id>', 'the task')
    .argument('<subtaskId>', 'the failed subtask')
    .addOption(followOption())
    .action(
      action(async (context, id: string, subtaskId: string, options: { follow?: boolean }) =>
        started(
          context,
          await context.client.call<TaskView>('skipSubtask', { path: { id, subtaskId } }),
          options.follow,
        ),
      ),
    );
  task
    .command('cancel')
    .description('cancel a batch (no new host starts), or with a subtask id, a RUNNING subtask')
    .argument('<id>', 'the task')
    .argument('[subtaskId]', 'the running subtask (for a single host restart)')
    .addOption(followOption())
    .action(
      action(async (context, id: string, subtaskId: string | undefined, options: { follow?: boolean }) => {
        const answer =
          subtaskId === undefined
            ? await context.client.call<TaskView>('cancelTask', { path: { id } })
            : await context.client.call<TaskView>('cancelSubtask', { path: { id, subtaskId } });
        return started(context, answer, options.follow);
      }),
    );
  task
    .command('rollback')
    .description('for a FAILED task: make sure the agent runs again (not a restart)')
    .argument('<id>', 'the task')
    .addOption(followOption())
    .action(
      action(async (context, id: string, options: { follow?: boolean }) =>
        started(
          context,
          await context.client.call<TaskView>('rollbackTask', { path: { id } }),
          options.follow,
        ),
      ),
    );

  program
    .command('agent')
    .description("the OCP agent's processes on a host")
    .command('status')
    .description('is the agent running? (GET /compute/hosts/{hostId}/agent)')
    .argument('<hostId>', 'the host')
    .action(
      action(async (context, hostId: string) => {
        const status = await context.client.call<AgentStatus>('getAgentStatus', { path: { hostId } });
        if (context.mode === 'json') return printJson(status);
        process.stdout.write(`host ${status.hostId}: ${status.status} · ${status.summary}\n`);
        printTable(
          ['PROCESS', 'RUNNING', 'PID'],
          status.processes.map((p) => [
            p.name,
            p.running ? 'yes' : 'no',
            p.pid === null ? '-' : String(p.pid),
          ]),
        );
        return EXIT.ok;
      }),
    );

  const hosts = program.command('hosts').description('the hosts OCP knows (GET /api/v2/compute/hosts)');
  hosts
    .command('list')
    .description('list hosts, a page at a time')
    .option('--page <n>', 'page, from 1', '1')
    .option('--size <n>', 'hosts per page', '10')
    .option('--id <ids>', 'only these hosts (comma-separated ids)')
    .action(
      action(async (context, options: { page: string; size: string; id?: string }) => {
        const answer = await context.client.call<Page<Record<string, unknown>>>('listHosts', {
          query: { page: options.page, size: options.size, id: options.id },
        });
        if (context.mode === 'json') return printJson(answer);
        const columns = hostColumns(answer.contents);
        printTable(
          columns.map((column) => column.toUpperCase()),
          answer.contents.map((host) => columns.map((column) => cell(host[column]))),
        );
        printPageLine(answer.page);
        return EXIT.ok;
      }),
    );
  hosts
    .command('get')
    .description('show one host')
    .argument('<id>', 'the host')
    .action(
      action(async (context, id: string) => {
        const host = await context.client.call<Record<string, unknown>>('getHost', { path: { hostId: id } });
        if (context.mode === 'json') return printJson(host);
        for (const [name, value] of Object.entries(host)) process.stdout.write(`${name}: ${cell(value)}\n`);
        return EXIT.ok;
      }),
    );

  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (error) {
    return failed(error, argv.includes('--json'));
  }
}

/** A terminal of no known size (a pseudo-terminal never sized) cannot show a live view: plain lines. */
const canRepaint = (stream: NodeJS.WriteStream) => stream.isTTY && stream.rows > 0 && stream.columns > 0;

interface Context {
  client: ApiClient;
  mode: OutputMode;
  /** How to name this CLI in the commands it suggests. */
  prefix: string;
}

interface Page<Item> {
  contents: Item[];
  page: { totalElements: number; totalPages: number; number: number; size: number };
}

/** After a call that starts or names a task: follow it, or show it as it stands. */
async function started(context: Context, task: TaskView, follow?: boolean): Promise<number> {
  if (follow) return followTask(context.client, task.id, context.mode, context.prefix, task);
  const code = await show(context, task);
  if (context.mode !== 'json' && task.status === 'RUNNING') {
    process.stdout.write(`Follow it: ${context.prefix} task get ${task.id} --follow\n`);
  }
  return code;
}

async function show(context: Context, task: TaskView): Promise<number> {
  if (context.mode === 'json') return printJson(task);
  process.stdout.write(`${liveView(task, new Date())}\n`);
  return EXIT.ok;
}

function printPlan(context: Context, plan: DryRunAnswer): number {
  const exitCode = plan.unknownHostIds.length ? EXIT.badInput : EXIT.ok;
  if (context.mode === 'json') {
    printJson(plan);
    return exitCode;
  }
  const { maxConcurrency, maxErrors } = plan.rollout.asked;
  process.stdout.write(
    `Dry run: ${plan.hostCount} hosts in ${plan.waves} waves, about ${plan.estimatedSeconds} s (maxConcurrency ${maxConcurrency} · maxErrors ${maxErrors} · health check ${plan.rollout.healthCheckSeconds} s)\n`,
  );
  printTable(
    ['HOST', 'PLAN', 'WAVE', 'PING', 'NOTE'],
    plan.hosts.map((host) => [
      String(host.hostId),
      host.plan,
      host.wave === undefined ? '-' : String(host.wave),
      host.pingStatus ?? '-',
      host.busyTaskId === undefined ? (host.reason ?? '') : `busy with task ${host.busyTaskId}`,
    ]),
  );
  if (plan.unknownHostIds.length) {
    process.stdout.write(
      `Unknown hosts: ${plan.unknownHostIds.join(', ')}: a real run is refused while any is named.\n`,
    );
  }
  process.stdout.write('Nothing was changed.\n');
  return exitCode;
}

function printJson(data: unknown): number {
  process.stdout.write(`${JSON.stringify(data)}\n`);
  return EXIT.ok;
}

function printTable(headings: string[], rows: string[][]): void {
  const widths = headings.map((heading, i) =>
    Math.max(heading.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((text, i) => text.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  process.stdout.write(`${[line(headings), ...rows.map(line)].join('\n')}\n`);
}

function printPageLine(page: Page<unknown>['page']): void {
  process.stdout.write(`page ${page.number} of ${page.totalPages} · ${page.totalElements} in all\n`);
}

const PREFERRED_HOST_COLUMNS = [
  'id',
  'name',
  'hostname',
  'innerIpAddress',
  'ip',
  'status',
  'instanceId',
  'busy',
  'runningTaskId',
];

function hostColumns(hosts: readonly Record<string, unknown>[]): string[] {
  const present = new Set(hosts.flatMap((host) => Object.keys(host)));
  const preferred = PREFERRED_HOST_COLUMNS.filter((column) => present.has(column));
  if (preferred.length) return preferred;
  return [...present].filter((column) => hosts.every((host) => typeof host[column] !== 'object')).slice(0, 6);
}

const cell = (value: unknown) =>
  value === undefined || value === null
    ? '-'
    : typeof value === 'object'
      ? JSON.stringify(value)
      : String(value);

/** The exit code and message of a failure; `--json` also puts it on stdout as `{ error }`. */
function failed(error: unknown, json: boolean): number {
  if (error instanceof CommanderError) {
    if (
      error.code === 'commander.helpDisplayed' ||
      error.code === 'commander.version' ||
      error.code === 'commander.help'
    ) {
      return EXIT.ok;
    }
    return EXIT.badInput;
  }
  const failure =
    error instanceof CliFailure
      ? error
      : new CliFailure(
          `Unexpected: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
          EXIT.unreachable,
        );
  process.stderr.write(`ocpctl: ${failure.message}\n`);
  if (json)
    process.stdout.write(
      `${JSON.stringify({ error: failure.detail ?? { message: failure.message }, exitCode: failure.exitCode })}\n`,
    );
  return failure.exitCode;
}

function rolloutLimit(value: string): number | string {
  if (/^[1-9]\d*%$/.test(value)) return value;
  if (/^\d+$/.test(value)) return Number(value);
  throw new InvalidArgumentError('a number (e.g. 5) or a percentage (e.g. 10%)');
}

function count(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('a whole number');
  return Number(value);
}

function taskNumber(id: string): number {
  if (!/^[1-9]\d*$/.test(id) || !Number.isSafeInteger(Number(id))) {
    throw new CliFailure(`A task id is a positive integer, not ${JSON.stringify(id)}`, EXIT.badInput);
  }
  return Number(id);
}

function hostList(values: readonly string[]): number[] {
  const ids = values.flatMap((value) => value.split(',')).filter((value) => value.trim() !== '');
  return ids.map((id) => {
    if (!/^[1-9]\d*$/.test(id.trim()) || !Number.isSafeInteger(Number(id))) {
      throw new CliFailure(`A host id is a positive integer, not ${JSON.stringify(id)}`, EXIT.badInput);
    }
    return Number(id);
  });
}
