import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { getPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startAwsEndpoint } from '../../local/aws-endpoint.ts';
import { BACKGROUND_NICE } from '../../local/cpu-priority.ts';
import { functionBundles } from '../../local/lambda-runtime/bundles.ts';
import { FunctionError } from '../../local/lambda-runtime/errors.ts';
import { FunctionPool, type PoolOptions } from '../../local/lambda-runtime/function-pool.ts';
import {
  parseTaskResource,
  type TaskContext,
  TaskIntegrations,
} from '../../local/services/step-functions-tasks.ts';

const PROBE = join(__dirname, '..', 'fixtures', 'lambda', 'instance-probe.mjs');
const HOST = join(__dirname, '..', 'fixtures', 'lambda', 'process-pool-host.ts');
const BROKEN = join(__dirname, '..', 'fixtures', 'lambda', 'broken-init.mjs');
const ARN = 'arn:aws:lambda:us-east-1:000000000000:function:probe';

const pools: FunctionPool[] = [];
function pool(
  options: Partial<PoolOptions> = {},
  isolation: PoolOptions['isolation'] = 'thread',
): FunctionPool {
  const created = new FunctionPool({
    isolation,
    id: 'probe',
    functionName: 'probe',
    functionArn: ARN,
    bundle: PROBE,
    environment: { PROBE_SETTING: 'from local mode' },
    timeoutSeconds: 10,
    memoryMb: 128,
    maxInstances: 4,
    ...options,
  });
  pools.push(created);
  return created;
}

afterEach(async () => {
  await Promise.all(pools.splice(0).map((created) => created.stop()));
});

/** The error a promise fails with; a promise that fulfils fails the test. */
function failureOf(promise: Promise<unknown>): Promise<Error & { errorType?: string }> {
  return promise.then(
    (value) => {
      throw new Error(`expected a failure, got ${JSON.stringify(value)}`);
    },
    (error: unknown) => error as Error,
  );
}

type Counted = { invocations: number; loadedAt: number; logStream: string };

describe.each(['thread', 'process'] as const)('function instances (%s)', (isolation) => {
  const instancePool = (options: Partial<PoolOptions> = {}) => pool(options, isolation);

  it('keep module scope per instance: two invocations at once run in two instances, a later one reuses a warm instance', async () => {
    const lines: string[] = [];
    const probe = instancePool({ log: (line) => lines.push(line) });
    const [first, second] = (await Promise.all([
      probe.invoke({ action: 'wait', ms: 200 }),
      probe.invoke({ action: 'wait', ms: 200 }),
    ])) as Counted[];
    expect(first!.logStream).not.toBe(second!.logStream);
    // Each instance counted only its own invocation.
    expect([first!.invocations, second!.invocations]).toEqual([1, 1]);

    const third = (await probe.invoke({ action: 'count' })) as Counted;
    expect([first!.logStream, second!.logStream]).toContain(third.logStream);
    expect(third.invocations).toBe(2);
    expect(probe.stats()).toMatchObject({ coldStarts: 2, instances: 2, peakInstances: 2, invocations: 3 });
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^probe: cold start \d+ ms \(instance [12]\)$/);
  });

  it.runIf(process.platform === 'linux')(
    'run at the nice value they are given, on their own thread only, and otherwise at their process’s',
    async () => {
      const processNice = getPriority();
      const background = instancePool({ nice: Math.max(processNice, BACKGROUND_NICE) });
      const interactive = instancePool();
      expect(await background.invoke({ action: 'nice' })).toBe(Math.max(processNice, BACKGROUND_NICE));
      expect(await interactive.invoke({ action: 'nice' })).toBe(processNice);
      // The thread's priority, not the process's: local mode's own event loop keeps its nice value.
      expect(getPriority()).toBe(processNice);
    },
  );

  it.runIf(process.platform === 'linux')('name the system thread each live instance runs on', async () => {
    const probe = instancePool();
    const threads = (await Promise.all([1, 2].map(() => probe.invoke({ action: 'thread' })))) as number[];

    expect(new Set(threads).size).toBe(2);
    expect(threads).not.toContain(process.pid);
    expect([...probe.stats().threadIds].sort()).toEqual([...threads].sort());
  });

  it('queue invocations beyond the instance limit and serve them one at a time', async () => {
    const probe = instancePool({ maxInstances: 1 });
    const answers = (await Promise.all(
      [1, 2, 3].map(() => probe.invoke({ action: 'wait', ms: 50 })),
    )) as Counted[];
    expect(answers.map((answer) => answer.invocations)).toEqual([1, 2, 3]);
    expect(new Set(answers.map((answer) => answer.logStream)).size).toBe(1);
    expect(probe.stats()).toMatchObject({ coldStarts: 1, peakInstances: 1 });
  });

  it('pass the payload and the result as JSON, as Lambda does', async () => {
    const probe = instancePool();
    const sent = { at: new Date('2026-01-02T03:04:05.000Z'), gone: undefined, list: [1, undefined] };
    expect(await probe.invoke({ action: 'echo', value: sent })).toEqual({
      at: '2026-01-02T03:04:05.000Z',
      list: [1, null],
    });
    expect(await probe.invoke({ action: 'nothing' })).toBeNull();
  });

  it('give each instance the environment and context Lambda gives it', async () => {
    const probe = instancePool({ functionName: 'ocp-probe', memoryMb: 192, timeoutSeconds: 7 });
    const seen = (await probe.invoke({ action: 'context' })) as {
      functionName: string;
      memoryLimitInMB: string;
      remainingMs: number;
      env: Record<string, string>;
    };
    expect(seen).toMatchObject({
      functionName: 'ocp-probe',
      memoryLimitInMB: '192',
      env: { name: 'ocp-probe', memory: '192', fromLocalMode: 'from local mode' },
    });
    expect(seen.remainingMs).toBeGreaterThan(5_000);
    expect(seen.remainingMs).toBeLessThanOrEqual(7_000);
  });

  it('keep a handler error’s name, message and stack across the instance boundary', async () => {
    const probe = instancePool();
    const failure = await failureOf(
      probe.invoke({ action: 'fail', name: 'HostBusy', message: 'host 3 is busy' }),
    );
    expect(failure).toBeInstanceOf(FunctionError);
    expect(failure).toMatchObject({ name: 'HostBusy', message: 'host 3 is busy', errorType: 'HostBusy' });
    expect(failure.stack).toMatch(/instance-probe\.mjs/);
    // The instance stays warm after a handled error.
    expect(((await probe.invoke({ action: 'count' })) as Counted).invocations).toBe(2);
  });

  it('stop a handler past its timeout and report it as Lambda does; the next invocation gets a fresh instance', async () => {
    const probe = instancePool({ timeoutSeconds: 1 });
    const before = (await probe.invoke({ action: 'count' })) as Counted;
    const started = Date.now();
    const failure = await failureOf(probe.invoke({ action: 'spin', ms: 60_000 }));
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(failure).toMatchObject({ name: 'Sandbox.Timedout' });
    expect(failure.message).toMatch(/^RequestId: [0-9a-f-]{36} Error: Task timed out after 1\.00 seconds$/);
    const after = (await probe.invoke({ action: 'count' })) as Counted;
    expect(after.logStream).not.toBe(before.logStream);
    expect(after.invocations).toBe(1);
    expect(probe.stats().coldStarts).toBe(2);
  });

  it('end an instance whose heap passes the function’s memory', async () => {
    const probe = instancePool({ memoryMb: 32 });
    const failure = await failureOf(probe.invoke({ action: 'grow' }));
    expect(failure).toMatchObject({ name: 'Runtime.OutOfMemory' });
    expect(failure.message).toMatch(/Runtime exited with error: out of memory/);
    expect(await probe.invoke({ action: 'echo', value: 'again' })).toBe('again');
  });

  it('fail the invocation with an error thrown outside the handler, and replace the instance', async () => {
    const probe = instancePool();
    const failure = await failureOf(probe.invoke({ action: 'crash' }));
    expect(failure).toMatchObject({ name: 'Error', message: 'thrown outside the handler' });
    expect(await probe.invoke({ action: 'echo', value: 1 })).toBe(1);
    expect(probe.stats().coldStarts).toBe(2);
  });

  it('fail every invocation of a module whose init throws with that error, trying the init again each time', async () => {
    const broken = instancePool({ bundle: BROKEN });
    for (let attempt = 0; attempt < 2; attempt++) {
      await expect(broken.invoke({})).rejects.toMatchObject({
        name: 'ConfigurationMissing',
        message: 'the module could not load its settings',
      });
    }
    expect(broken.stats()).toMatchObject({ coldStarts: 2, instances: 0 });
  });

  it('refuse an instance limit that is not a whole number ≥ 1', () => {
    expect(() => instancePool({ maxInstances: 0 })).toThrow(
      'probe: maxInstances must be a whole number ≥ 1, not 0',
    );
  });

  it('fail waiting and later invocations once stopped', async () => {
    const probe = instancePool({ maxInstances: 1 });
    const running = failureOf(probe.invoke({ action: 'hang' }));
    const waiting = failureOf(probe.invoke({ action: 'count' }));
    await new Promise((resolve) => setTimeout(resolve, 300));
    await probe.stop();
    expect(await waiting).toMatchObject({ message: 'probe: local mode is stopping' });
    expect(await running).toMatchObject({ name: 'Runtime.ExitError' });
    await expect(probe.invoke({ action: 'count' })).rejects.toThrow('probe: local mode is stopping');
  });
});

describe('function instances as child processes', () => {
  it.runIf(process.platform === 'linux')(
    'run in a process of their own, which ends with local mode however local mode ends',
    async () => {
      const host = spawn(process.execPath, ['--import', 'tsx', HOST], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const instancePid = Number(
        await new Promise<string>((resolve, reject) => {
          host.stdout.once('data', (chunk) => resolve(String(chunk)));
          host.once('exit', (code) =>
            reject(new Error(`the host exited (${code}) before its instance answered`)),
          );
        }),
      );
      expect(instancePid).toBeGreaterThan(0);
      expect(instancePid).not.toBe(host.pid);
      expect(existsSync(`/proc/${instancePid}`)).toBe(true);

      host.kill('SIGKILL');
      const deadline = Date.now() + 5_000;
      // This machine's init may leave the ended process a zombie: gone, or state Z, is ended.
      const ended = () =>
        !existsSync(`/proc/${instancePid}`) ||
        /^Z/.test(readFileSync(`/proc/${instancePid}/stat`, 'utf8').split(') ')[1] ?? '');
      while (!ended() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(ended()).toBe(true);
    },
  );
});

describe('invocation paths through an instance', () => {
  const context = {
    contextObject: {},
    redriving: false,
    submitted: () => undefined,
    record: () => undefined,
    signal: new AbortController().signal,
  } satisfies TaskContext;

  it('Step Functions’ lambda:invoke fails with the handler’s error name and Sandbox.Timedout for a timeout', async () => {
    const probe = pool({ timeoutSeconds: 1 });
    const tasks = new TaskIntegrations({ [ARN]: (payload) => probe.invoke(payload) }, async () => null);
    const resource = parseTaskResource('arn:aws:states:::lambda:invoke');
    await expect(
      tasks.invoke(
        resource,
        { FunctionName: ARN, Payload: { action: 'echo', value: { ok: true } } },
        context,
      ),
    ).resolves.toMatchObject({ Payload: { ok: true }, StatusCode: 200 });
    const failed = await failureOf(
      tasks.invoke(
        resource,
        { FunctionName: ARN, Payload: { action: 'fail', name: 'TaskNotFound', message: 'no 7' } },
        context,
      ),
    );
    expect(failed).toMatchObject({ name: 'TaskNotFound' });
    expect(JSON.parse(failed.message)).toMatchObject({ errorType: 'TaskNotFound', errorMessage: 'no 7' });
    const timedOut = await failureOf(
      tasks.invoke(resource, { FunctionName: ARN, Payload: { action: 'hang' } }, context),
    );
    expect(timedOut).toMatchObject({ name: 'Sandbox.Timedout' });
    expect(JSON.parse(timedOut.message).errorMessage).toMatch(/Task timed out after 1\.00 seconds$/);
  });

  it('a synchronous Invoke answers FunctionError Unhandled with errorType Sandbox.Timedout', async () => {
    const probe = pool({ timeoutSeconds: 1 });
    const endpoint = await startAwsEndpoint({
      services: {},
      lambdaFunctions: { probe: (payload) => probe.invoke(payload) },
    });
    const lambda = new LambdaClient({
      endpoint: endpoint.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    try {
      const answer = await lambda.send(
        new InvokeCommand({ FunctionName: 'probe', Payload: JSON.stringify({ action: 'hang' }) }),
      );
      expect(answer.FunctionError).toBe('Unhandled');
      const payload = JSON.parse(Buffer.from(answer.Payload!).toString());
      expect(payload).toMatchObject({ errorType: 'Sandbox.Timedout' });
      expect(payload.errorMessage).toMatch(/Task timed out after 1\.00 seconds$/);
    } finally {
      lambda.destroy();
      await endpoint.close();
    }
  });
});

describe('function bundles', () => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'ocp-bundles-'));
  const sourceDir = mkdtempSync(join(tmpdir(), 'ocp-bundle-source-'));
  afterAll(() => {
    rmSync(cacheDir, { recursive: true, force: true });
    rmSync(sourceDir, { recursive: true, force: true });
  });

  it('are built once, reused while no input changed, and rebuilt when one did', async () => {
    const entry = join(sourceDir, 'entry.ts');
    const helper = join(sourceDir, 'helper.ts');
    writeFileSync(
      entry,
      "import { answer } from './helper.ts';\nexport const handler = async () => answer;\n",
    );
    writeFileSync(helper, 'export const answer: number = 1;\n');
    const first = await functionBundles({ fn: entry }, cacheDir);
    expect(first.fn).toMatchObject({ built: true });
    const again = await functionBundles({ fn: entry }, cacheDir);
    expect(again.fn).toEqual({ file: first.fn!.file, built: false });

    writeFileSync(helper, 'export const answer: number = 2;\n');
    const changed = await functionBundles({ fn: entry }, cacheDir);
    expect(changed.fn!.built).toBe(true);
    expect(changed.fn!.file).not.toBe(first.fn!.file);
    const module = (await import(changed.fn!.file)) as { handler: () => Promise<number> };
    expect(await module.handler()).toBe(2);
  });
});
