import { Logger } from '@aws-lambda-powertools/logger';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { JsonLogger } from '../../functions/json-logger.ts';

const LEVEL_VARIABLES = [
  'AWS_LAMBDA_LOG_LEVEL',
  'POWERTOOLS_LOG_LEVEL',
  'LOG_LEVEL',
  'POWERTOOLS_LOGGER_SAMPLE_RATE',
  '_X_AMZN_TRACE_ID',
] as const;

interface Written {
  stdout: string[];
  stderr: string[];
}

/** What `act` writes to stdout and stderr, line by line, with every timestamp replaced by a mark. */
function written(act: () => void): Written {
  const lines: Written = { stdout: [], stderr: [] };
  const capture = (stream: 'stdout' | 'stderr') =>
    vi.spyOn(process[stream], 'write').mockImplementation((chunk) => {
      lines[stream].push(
        ...String(chunk)
          .split('\n')
          .filter((line) => line !== '')
          .map((line) => line.replace(/"timestamp":"[^"]+"/, '"timestamp":"T"')),
      );
      return true;
    });
  const spies = [capture('stdout'), capture('stderr')];
  try {
    act();
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
  return lines;
}

type LogCalls = Pick<JsonLogger, 'info' | 'warn' | 'error' | 'appendKeys' | 'resetKeys'>;
type Calls = (logger: LogCalls) => void;

/** The lines Powertools' Logger and ours write for the same calls, under the same environment. */
function bothWrite(env: Partial<Record<(typeof LEVEL_VARIABLES)[number], string>>, calls: Calls) {
  for (const name of LEVEL_VARIABLES) vi.stubEnv(name, env[name]);
  // Powertools' signatures also take other argument shapes; the calls use only the shapes both take.
  const powertools = written(() => calls(new Logger({ serviceName: 'svc' }) as unknown as LogCalls));
  const ours = written(() => calls(new JsonLogger({ serviceName: 'svc' })));
  // With a sample rate, Powertools at random turns DEBUG on and says so in a DEBUG line; the functions
  // log nothing at DEBUG, so that line is the only difference sampling makes, and it is left out.
  powertools.stdout = powertools.stdout.filter((line) => !line.startsWith('{"level":"DEBUG"'));
  return { powertools, ours };
}

function failure(): Error {
  const error = new Error('DynamoDB did not answer', { cause: new TypeError('socket hang up') });
  Object.assign(error, { code: 'ECONNRESET', $metadata: { attempts: 3 } });
  return error;
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('JsonLogger writes what Powertools Logger writes', () => {
  // One error for both loggers: its stack names the line that made it.
  const error = failure();
  const calls: Calls = (logger) => {
    logger.appendKeys({ taskId: 7, subtask: 'prepare', empty: '', none: null, unset: undefined });
    logger.info('subtask started', { attempt: 2n, nested: { a: [1, { b: 'c' }] } });
    logger.warn('slow answer', { route: 'restartAgent', ms: 812 });
    logger.error('subtask failed', { error });
    logger.resetKeys();
    logger.info('after reset');
  };

  it.each([
    ['without a trace header', {}],
    [
      'with a Lambda trace header',
      { _X_AMZN_TRACE_ID: 'Root=1-6757a1b2-0a1b2c3d4e5f;Parent=53995c3f42cd8ad8;Sampled=1' },
    ],
    ['with a bare trace id', { _X_AMZN_TRACE_ID: '1-6757a1b2-0a1b2c3d4e5f' }],
    ['with a sample rate', { POWERTOOLS_LOGGER_SAMPLE_RATE: '0.25', POWERTOOLS_LOG_LEVEL: 'INFO' }],
  ])('%s: the same lines on the same streams', (_case, env) => {
    const { powertools, ours } = bothWrite(env, calls);

    expect(ours).toEqual(powertools);
    expect(ours.stdout).toHaveLength(2);
    expect(ours.stderr).toHaveLength(2);
  });

  it('leaves out a circular reference as Powertools does', () => {
    const loop: Record<string, unknown> = { name: 'loop' };
    loop.self = loop;
    const { powertools, ours } = bothWrite({}, (logger) => logger.info('circular', { loop }));

    expect(ours).toEqual(powertools);
    expect(JSON.parse(ours.stdout[0] ?? '{}').loop).toEqual({ name: 'loop' });
  });

  it.each([
    ['POWERTOOLS_LOG_LEVEL', { POWERTOOLS_LOG_LEVEL: 'WARN' }, 2],
    ['LOG_LEVEL', { LOG_LEVEL: 'ERROR' }, 1],
    ['a lower-case level as no level (INFO)', { POWERTOOLS_LOG_LEVEL: 'warn' }, 4],
    ['SILENT', { POWERTOOLS_LOG_LEVEL: 'SILENT' }, 0],
    [
      'AWS_LAMBDA_LOG_LEVEL over POWERTOOLS_LOG_LEVEL',
      { AWS_LAMBDA_LOG_LEVEL: 'ERROR', POWERTOOLS_LOG_LEVEL: 'INFO' },
      1,
    ],
    ['an unknown level (INFO)', { POWERTOOLS_LOG_LEVEL: 'LOUD' }, 4],
  ])('honours %s', (_case, env, lines) => {
    const { powertools, ours } = bothWrite(env, calls);

    expect(ours.stdout.length + ours.stderr.length).toBe(lines);
    // Powertools also warns when its level is below the Lambda's (advanced logging controls).
    expect(ours.stderr).toEqual(
      powertools.stderr.filter((line) => !line.includes('Advanced Logging Controls')),
    );
    expect(ours.stdout).toEqual(powertools.stdout);
  });

  it('changes level at run time', () => {
    vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'SILENT');
    const logger = new JsonLogger({ serviceName: 'svc' });
    expect(logger.getLevelName()).toBe('SILENT');

    logger.setLogLevel('INFO');
    const lines = written(() => logger.info('now visible'));

    expect(lines.stdout.map((line) => JSON.parse(line).message)).toEqual(['now visible']);
  });
});
