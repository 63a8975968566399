import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DescribeExecutionCommand,
  DescribeMapRunCommand,
  DescribeStateMachineCommand,
  type ExecutionListItem,
  ListExecutionsCommand,
  ListMapRunsCommand,
  ListStateMachinesCommand,
  RedriveExecutionCommand,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalStepFunctions } from '#local/services/step-functions';
import {
  fixtureDefinition,
  HOST_WORK_ARN,
  type HostBehaviour,
  type HostWorkService,
  startHostWorkService,
} from './host-work-fixture.ts';
import { eventually, historyOf, rejection, terminalExecution } from './sfn-test-kit.ts';

const ROLLOUT_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:host-rollout';
/** The item processor's machine: the rollout machine with the Map state's Label. */
const ITEM_MACHINE_ARN = `${ROLLOUT_ARN}/RollOut`;

interface Rollout {
  hosts: { host: string; behaviour: HostBehaviour }[];
  maxConcurrency: number;
  toleratedFailurePercentage: number;
}

describe('a Distributed Map state, run locally', () => {
  let service: HostWorkService;

  beforeEach(async () => {
    service = await startHostWorkService('host-rollout.asl.json', ROLLOUT_ARN);
  });

  afterEach(async () => {
    await service.close();
  });

  const hosts = (...behaviours: HostBehaviour[]) =>
    behaviours.map((behaviour, index) => ({ host: `h${index + 1}`, behaviour }));

  const startRollout = async (rollout: Rollout) => {
    const { executionArn } = await service.sfn.send(
      new StartExecutionCommand({ stateMachineArn: ROLLOUT_ARN, input: JSON.stringify(rollout) }),
    );
    return executionArn!;
  };

  const mapRunOf = async (executionArn: string) => {
    const { mapRuns } = await service.sfn.send(new ListMapRunsCommand({ executionArn }));
    expect(mapRuns).toHaveLength(1);
    return mapRuns![0]!.mapRunArn!;
  };

  const childrenOf = async (mapRunArn: string): Promise<ExecutionListItem[]> => {
    const { executions = [] } = await service.sfn.send(new ListExecutionsCommand({ mapRunArn }));
    return executions;
  };

  it('never runs more children at once than MaxConcurrencyPath allows', async () => {
    const executionArn = await startRollout({
      hosts: hosts('succeed', 'succeed', 'succeed', 'succeed', 'succeed'),
      maxConcurrency: 2,
      toleratedFailurePercentage: 0,
    });
    await terminalExecution(service.sfn, executionArn);

    const children = await childrenOf(await mapRunOf(executionArn));

    expect(children).toHaveLength(5);
    const runningAt = (instant: number) =>
      children.filter((child) => child.startDate!.getTime() <= instant && instant < child.stopDate!.getTime())
        .length;
    const mostAtOnce = Math.max(...children.map((child) => runningAt(child.startDate!.getTime())));
    expect(mostAtOnce).toBe(2);
  });

  it("outputs the children's outputs in item order and records the Map Run in the history", async () => {
    const executionArn = await startRollout({
      hosts: hosts('succeed', 'succeed', 'succeed'),
      maxConcurrency: 0,
      toleratedFailurePercentage: 0,
    });

    const ended = await terminalExecution(service.sfn, executionArn);

    expect(ended.status).toBe('SUCCEEDED');
    expect(JSON.parse(ended.output!).results).toEqual([
      { host: 'h1', done: true },
      { host: 'h2', done: true },
      { host: 'h3', done: true },
    ]);
    const events = await historyOf(service.sfn, executionArn);
    expect(events.map((event) => event.type)).toEqual([
      'ExecutionStarted',
      'MapStateEntered',
      'MapStateStarted',
      'MapRunStarted',
      'MapRunSucceeded',
      'MapStateSucceeded',
      'MapStateExited',
      'SucceedStateEntered',
      'SucceedStateExited',
      'ExecutionSucceeded',
    ]);
    const mapRunArn = await mapRunOf(executionArn);
    expect(events.find((event) => event.type === 'MapStateStarted')?.mapStateStartedEventDetails).toEqual({
      length: 3,
    });
    expect(events.find((event) => event.type === 'MapRunStarted')?.mapRunStartedEventDetails).toEqual({
      mapRunArn,
    });
    expect(mapRunArn).toMatch(
      /^arn:aws:states:us-east-1:123456789012:mapRun:host-rollout\/RollOut:[0-9a-f-]{36}$/,
    );
  });

  it('runs each item as a child execution of the item processor, with its own history', async () => {
    const executionArn = await startRollout({
      hosts: hosts('succeed'),
      maxConcurrency: 1,
      toleratedFailurePercentage: 0,
    });
    await terminalExecution(service.sfn, executionArn);
    const mapRunArn = await mapRunOf(executionArn);

    const [child] = await childrenOf(mapRunArn);
    const described = await service.sfn.send(
      new DescribeExecutionCommand({ executionArn: child!.executionArn }),
    );

    expect(child).toMatchObject({ stateMachineArn: ITEM_MACHINE_ARN, mapRunArn, itemCount: 1 });
    expect(described).toMatchObject({ stateMachineArn: ITEM_MACHINE_ARN, mapRunArn, status: 'SUCCEEDED' });
    expect(JSON.parse(described.input!)).toEqual({ host: 'h1', behaviour: 'succeed', index: 0 });
    const events = await historyOf(service.sfn, child!.executionArn!);
    expect(events.map((event) => event.type)).toContain('TaskSubmitted');
  });

  it('succeeds with the failed children in the output while failures stay within the tolerated percentage', async () => {
    const executionArn = await startRollout({
      hosts: hosts('succeed', 'fail', 'succeed', 'succeed'),
      maxConcurrency: 4,
      toleratedFailurePercentage: 25,
    });

    const ended = await terminalExecution(service.sfn, executionArn);

    expect(ended.status).toBe('SUCCEEDED');
    const results = JSON.parse(ended.output!).results as Record<string, unknown>[];
    expect(results[0]).toEqual({ host: 'h1', done: true });
    expect(results[1]).toMatchObject({
      StateMachineArn: ITEM_MACHINE_ARN,
      Status: 'FAILED',
      Error: 'States.TaskFailed',
      Input: JSON.stringify({ host: 'h2', behaviour: 'fail', index: 1 }),
    });
    const mapRun = await service.sfn.send(
      new DescribeMapRunCommand({ mapRunArn: await mapRunOf(executionArn) }),
    );
    expect(mapRun).toMatchObject({
      status: 'SUCCEEDED',
      executionArn,
      maxConcurrency: 4,
      toleratedFailurePercentage: 25,
      executionCounts: { succeeded: 3, failed: 1, running: 0, aborted: 0, total: 4 },
    });
  });

  it('fails with States.ExceedToleratedFailureThreshold past the threshold and aborts the children still running', async () => {
    const executionArn = await startRollout({
      hosts: hosts('hold', 'hold', 'fail', 'fail'),
      maxConcurrency: 4,
      toleratedFailurePercentage: 25,
    });

    const ended = await terminalExecution(service.sfn, executionArn);

    expect(ended).toMatchObject({ status: 'FAILED', error: 'States.ExceedToleratedFailureThreshold' });
    const mapRunArn = await mapRunOf(executionArn);
    const aborted = await eventually(async () => {
      const children = await childrenOf(mapRunArn);
      const stopped = children.filter((child) => child.status === 'ABORTED');
      return stopped.length === 2 ? stopped : undefined;
    }, 'the held children to be aborted');
    expect(aborted).toHaveLength(2);
    const mapRun = await service.sfn.send(new DescribeMapRunCommand({ mapRunArn }));
    expect(mapRun).toMatchObject({ status: 'FAILED', executionCounts: { failed: 2, aborted: 2, total: 4 } });
    const events = await historyOf(service.sfn, executionArn);
    expect(events.map((event) => event.type).slice(-4)).toEqual([
      'MapRunStarted',
      'MapRunFailed',
      'MapStateFailed',
      'ExecutionFailed',
    ]);
    expect(events.find((event) => event.type === 'MapRunFailed')?.mapRunFailedEventDetails?.error).toBe(
      'States.ExceedToleratedFailureThreshold',
    );
  });

  it('stops the running children, and the executions they started, when the parent is stopped', async () => {
    const executionArn = await startRollout({
      hosts: hosts('hold'),
      maxConcurrency: 1,
      toleratedFailurePercentage: 0,
    });
    await eventually(() => (service.held() === 1 ? true : undefined), 'the host work to start');
    const mapRunArn = await mapRunOf(executionArn);

    await service.sfn.send(new StopExecutionCommand({ executionArn }));
    const [child] = await eventually(async () => {
      const children = await childrenOf(mapRunArn);
      return children[0]?.status === 'ABORTED' ? children : undefined;
    }, 'the child to be aborted');

    expect(child?.status).toBe('ABORTED');
    const hostWork = await eventually(async () => {
      const { executions = [] } = await service.sfn.send(
        new ListExecutionsCommand({ stateMachineArn: HOST_WORK_ARN }),
      );
      return executions[0]?.status === 'ABORTED' ? executions[0] : undefined;
    }, 'the host work execution to be aborted');
    expect(hostWork.status).toBe('ABORTED');
    expect((await service.sfn.send(new DescribeMapRunCommand({ mapRunArn }))).status).toBe('ABORTED');
  });

  it('fails the execution with States.Runtime for a ToleratedFailurePercentagePath value outside 0 to 100', async () => {
    const executionArn = await startRollout({
      hosts: hosts('succeed'),
      maxConcurrency: 1,
      toleratedFailurePercentage: 101,
    });

    const ended = await terminalExecution(service.sfn, executionArn);

    expect(ended).toMatchObject({ status: 'FAILED', error: 'States.Runtime' });
    expect(ended.cause).toContain('ToleratedFailurePercentage must be between 0 and 100.');
    expect(service.calls).toEqual([]);
  });

  it('lists and describes the machines as written, not the item processor machine', async () => {
    const { stateMachines } = await service.sfn.send(new ListStateMachinesCommand({}));
    const described = await service.sfn.send(
      new DescribeStateMachineCommand({ stateMachineArn: ROLLOUT_ARN }),
    );

    expect(stateMachines?.map((machine) => machine.stateMachineArn).sort()).toEqual(
      [HOST_WORK_ARN, ROLLOUT_ARN].sort(),
    );
    expect(JSON.parse(described.definition!)).toEqual(fixtureDefinition('host-rollout.asl.json'));
  });

  it('refuses StartExecution on the item processor machine, and listing its executions but by Map Run', async () => {
    const started = await rejection(
      service.sfn.send(new StartExecutionCommand({ stateMachineArn: ITEM_MACHINE_ARN, input: '{}' })),
    );
    const listed = await rejection(
      service.sfn.send(new ListExecutionsCommand({ stateMachineArn: ITEM_MACHINE_ARN })),
    );

    expect(started.name).toBe('ValidationException');
    expect(listed.name).toBe('ValidationException');
  });
});

describe('a Distributed Map state with a ToleratedFailureCount', () => {
  let service: HostWorkService;

  beforeEach(async () => {
    const rollout = fixtureDefinition('host-rollout.asl.json') as {
      States: Record<string, Record<string, unknown>>;
    };
    const { ToleratedFailurePercentagePath: _percentage, ...map } = rollout.States['Roll out']!;
    const definition = {
      ...rollout,
      States: { ...rollout.States, 'Roll out': { ...map, ToleratedFailureCount: 1 } },
    };
    service = await startHostWorkService(definition, ROLLOUT_ARN);
  });

  afterEach(async () => {
    await service.close();
  });

  const run = async (behaviours: HostBehaviour[]) => {
    const hosts = behaviours.map((behaviour, index) => ({ host: `h${index + 1}`, behaviour }));
    const { executionArn } = await service.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: ROLLOUT_ARN,
        input: JSON.stringify({ hosts, maxConcurrency: 1 }),
      }),
    );
    return terminalExecution(service.sfn, executionArn!);
  };

  it('succeeds with as many failed items as the count tolerates', async () => {
    expect((await run(['fail', 'succeed', 'succeed'])).status).toBe('SUCCEEDED');
  });

  it('fails with States.ExceedToleratedFailureThreshold one failed item past the count', async () => {
    expect(await run(['fail', 'fail', 'succeed'])).toMatchObject({
      status: 'FAILED',
      error: 'States.ExceedToleratedFailureThreshold',
    });
    expect(service.calls.map((call) => call.host)).toEqual(['h1', 'h2']);
  });
});

describe('redriving an execution whose Distributed Map failed', () => {
  let storeDir: string;
  let service: HostWorkService;

  beforeEach(async () => {
    storeDir = mkdtempSync(join(tmpdir(), 'distributed-map-'));
    service = await startHostWorkService('host-rollout.asl.json', ROLLOUT_ARN, storeDir);
  });

  afterEach(async () => {
    await service.close();
    rmSync(storeDir, { recursive: true, force: true });
  });

  const startRollout = async (behaviours: HostBehaviour[]) => {
    const rollout: Rollout = {
      hosts: behaviours.map((behaviour, index) => ({ host: `h${index + 1}`, behaviour })),
      maxConcurrency: 1,
      toleratedFailurePercentage: 0,
    };
    const { executionArn } = await service.sfn.send(
      new StartExecutionCommand({ stateMachineArn: ROLLOUT_ARN, input: JSON.stringify(rollout) }),
    );
    return executionArn!;
  };

  it('redrives the same Map Run: only the failed and the never started items run again', async () => {
    const executionArn = await startRollout(['succeed', 'fail', 'succeed']);
    expect((await terminalExecution(service.sfn, executionArn)).status).toBe('FAILED');
    service.behaviourOf.set('h2', 'succeed');

    await service.sfn.send(new RedriveExecutionCommand({ executionArn }));
    const ended = await terminalExecution(service.sfn, executionArn);

    expect(ended.status).toBe('SUCCEEDED');
    expect(JSON.parse(ended.output!).results.map((result: { host: string }) => result.host)).toEqual([
      'h1',
      'h2',
      'h3',
    ]);
    expect(service.calls.map((call) => call.host)).toEqual(['h1', 'h2', 'h2', 'h3']);
    const { mapRuns } = await service.sfn.send(new ListMapRunsCommand({ executionArn }));
    expect(mapRuns).toHaveLength(1);
    const mapRun = await service.sfn.send(new DescribeMapRunCommand({ mapRunArn: mapRuns![0]!.mapRunArn }));
    expect(mapRun).toMatchObject({
      status: 'SUCCEEDED',
      redriveCount: 1,
      executionCounts: { succeeded: 3, total: 3 },
    });
    const events = (await historyOf(service.sfn, executionArn)).map((event) => event.type);
    expect(events).toContain('MapRunRedriven');
    const { executions: redriven } = await service.sfn.send(
      new ListExecutionsCommand({ mapRunArn: mapRuns![0]!.mapRunArn, redriveFilter: 'REDRIVEN' }),
    );
    expect(redriven?.map((child) => child.redriveCount)).toEqual([1]);
  });

  it('keeps the Map Run across a restart of local mode, and a redrive then finishes it', async () => {
    const executionArn = await startRollout(['succeed', 'hold']);
    await eventually(() => (service.held() === 1 ? true : undefined), 'the second host to start');
    const mapRunArn = (await service.sfn.send(new ListMapRunsCommand({ executionArn }))).mapRuns![0]!
      .mapRunArn!;

    await service.shutdown();
    service = await startHostWorkService('host-rollout.asl.json', ROLLOUT_ARN, storeDir);
    service.behaviourOf.set('h2', 'succeed');

    expect(await service.sfn.send(new DescribeExecutionCommand({ executionArn }))).toMatchObject({
      status: 'FAILED',
      error: 'States.Runtime',
    });
    expect(await service.sfn.send(new DescribeMapRunCommand({ mapRunArn }))).toMatchObject({
      status: 'FAILED',
      executionCounts: { succeeded: 1, failed: 1, total: 2 },
    });
    await service.sfn.send(new RedriveExecutionCommand({ executionArn }));
    const ended = await terminalExecution(service.sfn, executionArn);
    expect(ended.status).toBe('SUCCEEDED');
    expect(service.calls.map((call) => call.host)).toEqual(['h2']);
  });
});

describe('a Distributed Map definition local mode refuses, as CreateStateMachine does', () => {
  const rollout = fixtureDefinition('host-rollout.asl.json') as {
    States: Record<string, Record<string, unknown>>;
  };
  /** The rollout definition with fields of its Map state set (or, given undefined, removed). */
  const withMapFields = (fields: Record<string, unknown>) => {
    const map = { ...rollout.States['Roll out'], ...fields };
    for (const [field, value] of Object.entries(fields)) if (value === undefined) delete map[field];
    return { ...rollout, States: { ...rollout.States, 'Roll out': map } };
  };
  const build = (definition: object) => () =>
    new LocalStepFunctions({ stateMachineArn: ROLLOUT_ARN, definition, lambdaFunctions: {} });

  it('refuses a MaxConcurrency above 10,000', () => {
    expect(build(withMapFields({ MaxConcurrencyPath: undefined, MaxConcurrency: 10_001 }))).toThrow(
      /MaxConcurrency/,
    );
  });

  it('refuses a ToleratedFailurePercentage outside 0 to 100', () => {
    expect(
      build(withMapFields({ ToleratedFailurePercentagePath: undefined, ToleratedFailurePercentage: 101 })),
    ).toThrow(/ToleratedFailurePercentage/);
  });

  it('refuses a field and its Path variant together', () => {
    expect(build(withMapFields({ ToleratedFailureCount: 1, ToleratedFailureCountPath: '$.count' }))).toThrow(
      /ToleratedFailureCountPath/,
    );
  });

  it('refuses a Label that is not a valid label', () => {
    expect(build(withMapFields({ Label: 'roll out' }))).toThrow(/INVALID_LABEL_NAME/);
  });

  it('refuses distributed-only fields on an inline Map state', () => {
    const map = rollout.States['Roll out'] as { ItemProcessor: Record<string, unknown> };
    const inline = withMapFields({
      ItemProcessor: { ...map.ItemProcessor, ProcessorConfig: { Mode: 'INLINE' } },
    });
    expect(build(inline)).toThrow(/only allowed in a Map state in DISTRIBUTED mode/);
  });
});
