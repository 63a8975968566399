import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type BatchHostRecord,
  type BatchRecord,
  batchOutcome,
  cancelBatch,
  countHosts,
  hostEnded,
  hostNotStarted,
  hostStarted,
  hostsStoppedByThreshold,
  hostsToStart,
  newBatch,
  retryBatch,
} from '#core/batch-task';
import { TaskStateInvalid } from '#core/errors';
import type { RolloutSettings } from '#core/rollout';
import { ocpTimestamp } from '#core/time';

/** What can happen to a batch, in any order: the rollout's steps, hosts' ends, and operators' actions. */
type BatchEvent =
  | { kind: 'start'; index: number }
  | { kind: 'busy'; index: number }
  | { kind: 'end'; index: number; succeeded: boolean; stale: boolean }
  | { kind: 'stop' }
  | { kind: 'outcome' }
  | { kind: 'retry' }
  | { kind: 'cancel' }
  /** What a rollout driver does: start what hostsToStart offers, one by one. */
  | { kind: 'step' };

const MAX_HOSTS = 8;
const index = fc.integer({ min: 0, max: MAX_HOSTS - 1 });
const batchEvent: fc.Arbitrary<BatchEvent> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('step' as const) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('start' as const), index }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('busy' as const), index }) },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('end' as const),
      index,
      succeeded: fc.boolean(),
      stale: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('stop' as const) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('outcome' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('retry' as const) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'cancel' as const }) },
);

const settings: fc.Arbitrary<RolloutSettings> = fc
  .record({ maxConcurrency: fc.integer({ min: 1, max: 4 }), maxErrors: fc.integer({ min: 0, max: 3 }) })
  .map(({ maxConcurrency, maxErrors }) => ({
    maxConcurrency,
    maxErrors,
    healthCheckSeconds: 0,
    asked: { maxConcurrency: String(maxConcurrency), maxErrors: String(maxErrors) },
  }));

interface World {
  batch: BatchRecord;
  hosts: BatchHostRecord[];
  clock: number;
  nextTaskId: number;
  /** Hosts that succeeded, as they were then: a success is never undone. */
  succeeded: Map<number, BatchHostRecord>;
}

function newWorld(hostCount: number, rollout: RolloutSettings): World {
  const { batch, hosts } = newBatch({
    firstId: 1,
    hostIds: Array.from({ length: hostCount }, (_, i) => 100 + i),
    creator: 'alice',
    type: 'MANUAL',
    prohibitRollback: false,
    rollout,
    executor: 'arn',
    now: new Date(0),
  });
  return { batch, hosts, clock: 0, nextTaskId: 1000, succeeded: new Map() };
}

/** Failures and running hosts counted from the statuses, independently of countHosts. */
function tally(hosts: readonly BatchHostRecord[]) {
  return {
    running: hosts.filter((host) => host.status === 'RUNNING').length,
    failures: hosts.filter(
      (host) =>
        host.status === 'FAILED' || (host.status === 'NOT_STARTED' && host.busyWithTaskId !== undefined),
    ).length,
  };
}

function write(world: World, changed: readonly (BatchHostRecord | undefined)[]): void {
  const byIndex = new Map(changed.flatMap((host) => (host ? [[host.index, host] as const] : [])));
  world.hosts = world.hosts.map((host) => byIndex.get(host.index) ?? host);
}

function tryStart(world: World, index: number, now: Date): void {
  const before = tally(world.hosts);
  const host = hostStarted(world.batch, world.hosts, index, world.nextTaskId, now);
  if (!host) return;
  // No host starts once the failures exceed maxErrors, beyond maxConcurrency, or in a cancelled batch.
  expect(before.failures).toBeLessThanOrEqual(world.batch.rollout.maxErrors);
  expect(before.running).toBeLessThan(world.batch.rollout.maxConcurrency);
  expect(world.batch.operation).not.toBe('CANCEL');
  world.nextTaskId += 6;
  write(world, [host]);
}

/** Applies one event as the product would; a refused event (a domain error, or no change) changes nothing. */
function apply(world: World, event: BatchEvent): void {
  world.clock += 1000;
  const now = new Date(world.clock);
  switch (event.kind) {
    case 'start':
      tryStart(world, event.index, now);
      break;
    case 'busy':
      write(world, [hostNotStarted(world.batch, world.hosts, event.index, { busyWithTaskId: 7 })]);
      break;
    case 'step':
      for (const host of hostsToStart(world.batch, world.hosts)) tryStart(world, host.index, now);
      break;
    case 'end': {
      const host = world.hosts[event.index];
      if (!host?.taskId) break;
      const taskId = event.stale ? host.taskId - 6 : host.taskId;
      const endTime = ocpTimestamp(now);
      write(world, [
        hostEnded(
          host,
          event.succeeded
            ? { status: 'SUCCESSFUL', taskId, endTime }
            : { status: 'FAILED', taskId, endTime, failedSubtask: 3, error: 'exit 1' },
        ),
      ]);
      break;
    }
    case 'stop':
      write(world, hostsStoppedByThreshold(world.batch, world.hosts));
      break;
    case 'outcome':
      world.batch = batchOutcome(world.batch, world.hosts, now) ?? world.batch;
      break;
    case 'retry': {
      const retried = unlessRefused(() => retryBatch(world.batch, world.hosts));
      if (!retried) break;
      world.batch = retried.batch;
      write(world, retried.hosts);
      break;
    }
    case 'cancel': {
      const canceled = unlessRefused(() => cancelBatch(world.batch, world.hosts, 'bob', now));
      if (!canceled) break;
      world.batch = canceled.batch;
      write(world, canceled.hosts);
      expect(canceled.running.map((host) => host.index)).toEqual(
        world.hosts.filter((host) => host.status === 'RUNNING').map((host) => host.index),
      );
      break;
    }
  }
}

/** Retry and cancel refuse a batch in the wrong state with TaskStateInvalid, as OCP does; nothing changes. */
function unlessRefused<T>(act: () => T): T | undefined {
  try {
    return act();
  } catch (error) {
    if (error instanceof TaskStateInvalid) return undefined;
    throw error;
  }
}

/** A plain check: expect's matchers, called for every host after every event, would dominate the run. */
function check(condition: boolean, what: string, world: World): void {
  if (!condition) throw new Error(`${what}: ${JSON.stringify({ batch: world.batch, hosts: world.hosts })}`);
}

function expectConsistent(world: World): void {
  const { batch, hosts } = world;
  const counts = countHosts(hosts);
  const sum =
    counts.pending + counts.running + counts.succeeded + counts.failed + counts.notStarted + counts.canceled;
  check(sum === batch.hostCount && counts.total === batch.hostCount, 'the counts add up to the hosts', world);
  const tallied = tally(hosts);
  check(
    counts.running === tallied.running && counts.failures === tallied.failures,
    'the counts count what maxErrors looks at',
    world,
  );
  check(counts.running <= batch.rollout.maxConcurrency, 'at most maxConcurrency hosts run', world);
  if (batch.status === 'RUNNING') {
    check(batch.endTime === undefined, 'a running batch has not ended', world);
  } else {
    check(counts.pending + counts.running === 0, 'an ended batch has no PENDING or RUNNING host', world);
    check(typeof batch.endTime === 'string', 'an ended batch says when it ended', world);
  }
  if (batch.status === 'SUCCESSFUL')
    check(counts.succeeded === batch.hostCount, 'a successful batch succeeded on every host', world);
  hosts.forEach((host, i) => {
    check(host.index === i, 'hosts keep their order', world);
    if (host.status === 'RUNNING')
      check(host.taskId !== undefined && host.startTime !== undefined, 'a running host has its task', world);
    if (host.status === 'FAILED') check(host.error !== undefined, 'a failed host says why', world);
    if (host.status === 'NOT_STARTED' || host.status === 'CANCELED')
      check(host.reason !== undefined, 'a host not started says why', world);
    // A host that succeeded stays as it was: neither a retry nor anything else touches it.
    const success = world.succeeded.get(host.index);
    if (success) check(host === success, 'a successful host is never touched again', world);
    else if (host.status === 'SUCCESSFUL') world.succeeded.set(host.index, host);
  });
}

describe('the batch aggregate over random sequences of host events', () => {
  it('keeps every invariant after each event', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: MAX_HOSTS }),
        settings,
        fc.array(batchEvent, { maxLength: 80, size: 'large' }),
        (hostCount, rollout, events) => {
          const world = newWorld(hostCount, rollout);
          expectConsistent(world);
          for (const event of events) {
            apply(world, event);
            expectConsistent(world);
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  it('reaches every end: succeeded, failed, cancelled, and retried to success', () => {
    const ends = new Set<string>();
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: MAX_HOSTS }),
        settings,
        fc.array(batchEvent, { minLength: 20, maxLength: 80, size: 'max' }),
        (hostCount, rollout, events) => {
          const world = newWorld(hostCount, rollout);
          for (const event of events) apply(world, event);
          ends.add(`${world.batch.status}/${world.batch.operation}`);
          if (world.hosts.some((host) => host.status === 'NOT_STARTED' && host.busyWithTaskId === undefined))
            ends.add('stopped by the threshold');
        },
      ),
      // Seeded: which ends 1,000 random runs reach varies by seed (a retry to success is the rarest,
      // missed about once in many seeds), and this test checks that the generator reaches them all.
      { numRuns: 1000, seed: 20261202 },
    );
    expect(ends).toContain('SUCCESSFUL/EXECUTE');
    expect(ends).toContain('FAILED/EXECUTE');
    expect(ends).toContain('FAILED/CANCEL');
    expect(ends).toContain('SUCCESSFUL/RETRY');
    expect(ends).toContain('stopped by the threshold');
  });
});
