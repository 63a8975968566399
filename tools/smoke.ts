import { parseArgs } from 'node:util';
import { RESTART_SUBTASKS } from '#core/subtasks';
import {
  type CheckResult,
  isJwt,
  runSmokeTest,
  TASK_DEADLINE_MARGIN_SECONDS,
  taskDeadlineSeconds,
} from './smoke-checks.ts';

const EXIT = { passed: 0, failed: 1, usage: 2 } as const;

const USAGE = `Usage: npm run smoke -- --api <ApiUrl> --token <jwt> --host <hostId> [--viewer-token <jwt>]

Proves a deployment end to end on one host, whose OCP agent it restarts once:
  - reads the agent's status (GET /compute/hosts/{hostId}/agent);
  - restarts it: the answer must be OCP's envelope (the field names and types of OCP's sample
    response) for a RUNNING task with the five subtasks in order;
  - waits until the task is SUCCESSFUL, at most the subtasks' timeouts (${RESTART_SUBTASKS.map((s) => s.timeoutSeconds).join(' + ')} s) + ${TASK_DEADLINE_MARGIN_SECONDS} s = ${taskDeadlineSeconds()} s;
  - reads the agent's status again: every process runs, each with a new pid;
  - reads every subtask's log;
  - sends restarts that must be refused: without a token (401), with a tampered token (401), and
    with --viewer-token (403).
Prints one line per check (✓ passed, ✗ failed, - skipped) with its time.

Options:
  --api <url>            the stack's ApiUrl output
  --token <jwt>          an operator's token with HOST_MANAGER and TASK_VIEWER (or TASK_MANAGER)
  --host <hostId>        a registered host whose agent may be restarted now
  --viewer-token <jwt>   optional: a valid token without HOST_MANAGER
  -h, --help             this text

Exit codes: ${EXIT.passed} every check passed; ${EXIT.failed} a check failed (the report says which); ${EXIT.usage} bad arguments.`;

class UsageError extends Error {}

function parse() {
  let values: ReturnType<typeof parseOptions>['values'];
  try {
    ({ values } = parseOptions());
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (values.help) return undefined;
  const api = values.api?.replace(/\/+$/, '');
  if (!api || !/^https?:\/\/[^/]/.test(api)) throw new UsageError('--api must be the http(s) URL of the API');
  const token = values.token?.replace(/^Bearer\s+/i, '');
  if (!token || !isJwt(token)) throw new UsageError('--token must be a JWT (header.payload.signature)');
  const viewerToken = values['viewer-token']?.replace(/^Bearer\s+/i, '');
  if (viewerToken !== undefined && !isJwt(viewerToken))
    throw new UsageError('--viewer-token must be a JWT (header.payload.signature)');
  if (!values.host || !/^[1-9]\d{0,18}$/.test(values.host))
    throw new UsageError('--host must be a host id (a positive whole number)');
  return { api, token, hostId: values.host, ...(viewerToken ? { viewerToken } : {}) };
}

function parseOptions() {
  return parseArgs({
    options: {
      api: { type: 'string' },
      token: { type: 'string' },
      host: { type: 'string' },
      'viewer-token': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
}

const MARK: Record<CheckResult['outcome'], string> = { passed: '✓', failed: '✗', skipped: '-' };

function line(result: CheckResult): string {
  const time =
    result.outcome === 'skipped'
      ? ''
      : result.seconds < 1
        ? ` (${Math.round(result.seconds * 1000)} ms)`
        : ` (${result.seconds.toFixed(1)} s)`;
  return `${MARK[result.outcome]} ${result.name}: ${result.detail}${time}`;
}

async function main(): Promise<number> {
  let target: ReturnType<typeof parse>;
  try {
    target = parse();
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`smoke: ${error.message}\n\n${USAGE}\n`);
    return EXIT.usage;
  }
  if (!target) {
    process.stdout.write(`${USAGE}\n`);
    return EXIT.passed;
  }
  const started = performance.now();
  process.stdout.write(`Smoke test of ${target.api} on host ${target.hostId}\n`);
  const results = await runSmokeTest(target, (result) => process.stdout.write(`${line(result)}\n`));
  const failed = results.filter((result) => result.outcome === 'failed').length;
  const skipped = results.filter((result) => result.outcome === 'skipped').length;
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const tally = `${results.length - failed - skipped} passed, ${failed} failed, ${skipped} skipped`;
  process.stdout.write(
    failed === 0 ? `PASSED in ${seconds} s (${tally})\n` : `FAILED in ${seconds} s (${tally})\n`,
  );
  return failed === 0 ? EXIT.passed : EXIT.failed;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `smoke: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = EXIT.failed;
  },
);
