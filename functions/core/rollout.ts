import type { BatchRequest, RolloutLimit } from './batch-request.ts';
import type { InstancePing } from './command-outcome.ts';
import { HostsNotFound } from './errors.ts';

/**
 * How a batch restart rolls out over its hosts, after SSM Run Command's rate controls
 * (https://docs.aws.amazon.com/systems-manager/latest/userguide/send-commands-multiple.html):
 * at most maxConcurrency hosts restart at once, and no new host starts once more than maxErrors hosts
 * have failed. Hosts start in the order the request gives them.
 */

/** SendCommand's defaults: MaxConcurrency 50, MaxErrors 0. */
export const DEFAULT_MAX_CONCURRENCY: RolloutLimit = { count: 50 };
export const DEFAULT_MAX_ERRORS: RolloutLimit = { count: 0 };
/** No wait after a host's restart unless one is asked for. */
export const DEFAULT_HEALTH_CHECK_SECONDS = 0;

/** The rollout controls of one batch, as counts of its hosts. */
export interface RolloutSettings {
  /** Hosts restarting at once, at least 1. */
  maxConcurrency: number;
  /** Failed hosts the batch tolerates: one more and no new host starts. */
  maxErrors: number;
  healthCheckSeconds: number;
  /** The limits as asked ("10%", "5"), so the record and the view can say where the counts came from. */
  asked: { maxConcurrency: string; maxErrors: string };
}

/**
 * The request's controls, with SSM's defaults, as counts of the batch's `hostCount` hosts. SSM does not
 * say how it rounds a percentage of the targets (its one example, MaxErrors 10% of 50 nodes, comes out
 * whole); this follows the rule AWS documents for the same controls of CloudFormation StackSets
 * (StackSetOperationPreferences: MaxConcurrentPercentage and FailureTolerancePercentage "round down to
 * the next whole number", concurrency set to one where rounding down would give zero): the rounding
 * that never exceeds the percentage asked.
 */
export function resolveRollout(request: Pick<BatchRequest, 'rollout'>, hostCount: number): RolloutSettings {
  const concurrency = request.rollout.maxConcurrency ?? DEFAULT_MAX_CONCURRENCY;
  const errors = request.rollout.maxErrors ?? DEFAULT_MAX_ERRORS;
  return {
    maxConcurrency: Math.max(1, countOf(concurrency, hostCount)),
    maxErrors: countOf(errors, hostCount),
    healthCheckSeconds: request.rollout.healthCheckSeconds ?? DEFAULT_HEALTH_CHECK_SECONDS,
    asked: { maxConcurrency: spelled(concurrency), maxErrors: spelled(errors) },
  };
}

function countOf(limit: RolloutLimit, hostCount: number): number {
  return 'count' in limit ? limit.count : Math.floor((limit.percent * hostCount) / 100);
}

function spelled(limit: RolloutLimit): string {
  return 'count' in limit ? String(limit.count) : `${limit.percent}%`;
}

/** What the rollout's limits look at: hosts restarting now, and hosts counted as failures. */
export interface RolloutCounts {
  running: number;
  /** Hosts that failed, and hosts not started because another agent operation held them. */
  failures: number;
}

export type StartDecision =
  | { start: true }
  /**
   * errorThreshold: no host of the batch starts again (until a retry); concurrency: one may start when
   * a running host ends.
   */
  | { start: false; blockedBy: 'errorThreshold' | 'concurrency'; reason: string };

/**
 * Whether one more host may start. SSM stops sending a command "when the command fails one more time
 * beyond the value of MaxErrors" (SendCommand, MaxErrors; "If you specify 3, for example, the system
 * stops sending the command when the fourth error is received"): the threshold is crossed once the
 * failures exceed maxErrors, and maxErrors 0 stops at the first failure.
 */
export function mayStartHost(
  counts: RolloutCounts,
  settings: Pick<RolloutSettings, 'maxConcurrency' | 'maxErrors'>,
): StartDecision {
  if (errorThresholdExceeded(counts, settings))
    return { start: false, blockedBy: 'errorThreshold', reason: thresholdReason(counts, settings) };
  if (counts.running >= settings.maxConcurrency)
    return {
      start: false,
      blockedBy: 'concurrency',
      reason: `${counts.running} hosts are restarting, as many as maxConcurrency (${settings.maxConcurrency}) allows`,
    };
  return { start: true };
}

export function errorThresholdExceeded(
  counts: Pick<RolloutCounts, 'failures'>,
  settings: Pick<RolloutSettings, 'maxErrors'>,
): boolean {
  return counts.failures > settings.maxErrors;
}

/** Why a host does not start once the threshold is crossed. */
export function thresholdReason(
  counts: Pick<RolloutCounts, 'failures'>,
  settings: Pick<RolloutSettings, 'maxErrors'>,
): string {
  const hosts =
    counts.failures === 1
      ? '1 host of the batch failed or was busy'
      : `${counts.failures} hosts of the batch failed or were busy`;
  return `${hosts}, more than maxErrors (${settings.maxErrors}) allows: no new host starts`;
}

/** A host as a dry run sees it before anything starts. */
export interface PlanHost {
  hostId: number;
  /** Registered with parameters a command may carry (an invalid record counts as unknown, as for one host). */
  known: boolean;
  /** The task of another agent operation holding the host's lock. */
  busyTaskId?: number;
  /** SSM's PingStatus of the host's instance, when looked up. */
  pingStatus?: InstancePing;
}

export type PlannedHost = { hostId: number; index: number } & (
  | {
      plan: 'start';
      /** 1 for the hosts that start first. */
      wave: number;
      /** Set when SSM does not see the instance Online: its restart is expected to fail. */
      pingStatus?: Exclude<InstancePing, 'Online'>;
    }
  | { plan: 'notStarted'; reason: string; busyTaskId?: number }
  | { plan: 'unknown'; reason: string }
);

export interface RolloutPlan {
  settings: RolloutSettings;
  /** Every host, in the order of the request. */
  hosts: PlannedHost[];
  waves: number;
  /** waves × (secondsPerRestart + healthCheckSeconds). */
  estimatedSeconds: number;
  /** Hosts that do not exist: the batch itself refuses them (HostsNotFound) before anything starts. */
  unknownHostIds: number[];
  busyHosts: { hostId: number; taskId: number }[];
  unreachableHosts: { hostId: number; pingStatus: Exclude<InstancePing, 'Online'> }[];
  /** Hosts that would not start because the threshold would be crossed before their turn. */
  stoppedHostIds: number[];
}

/**
 * What a batch would do: hosts start in order, maxConcurrency to a wave. A busy host is not started
 * and counts as a failure at its turn; a host SSM does not see Online is expected to fail during its
 * wave; every other host is expected to succeed. Once the failures exceed maxErrors no host starts.
 * Waves approximate SSM's rolling window: equal restarts in a window of maxConcurrency end together.
 */
export function planRollout(
  hosts: readonly PlanHost[],
  settings: RolloutSettings,
  secondsPerRestart: number,
): RolloutPlan {
  const planned: PlannedHost[] = [];
  let failures = 0;
  let started = 0;
  let wave = 0;
  let failingInWave = 0;
  hosts.forEach((host, index) => {
    const { hostId } = host;
    if (!host.known) {
      planned.push({ hostId, index, plan: 'unknown', reason: `Host ${hostId} does not exist.` });
      return;
    }
    const nextWave = Math.floor(started / settings.maxConcurrency) + 1;
    if (nextWave > wave) {
      failures += failingInWave;
      failingInWave = 0;
    }
    if (errorThresholdExceeded({ failures }, settings)) {
      planned.push({ hostId, index, plan: 'notStarted', reason: thresholdReason({ failures }, settings) });
      return;
    }
    if (host.busyTaskId !== undefined) {
      failures += 1;
      planned.push({
        hostId,
        index,
        plan: 'notStarted',
        reason: busyReason(hostId, host.busyTaskId),
        busyTaskId: host.busyTaskId,
      });
      return;
    }
    wave = nextWave;
    started += 1;
    const offline =
      host.pingStatus !== undefined && host.pingStatus !== 'Online' ? host.pingStatus : undefined;
    if (offline) failingInWave += 1;
    planned.push({ hostId, index, plan: 'start', wave, ...(offline ? { pingStatus: offline } : {}) });
  });
  return {
    settings,
    hosts: planned,
    waves: wave,
    estimatedSeconds: wave * (secondsPerRestart + settings.healthCheckSeconds),
    unknownHostIds: planned.filter((host) => host.plan === 'unknown').map((host) => host.hostId),
    busyHosts: planned.flatMap((host) =>
      host.plan === 'notStarted' && host.busyTaskId !== undefined
        ? [{ hostId: host.hostId, taskId: host.busyTaskId }]
        : [],
    ),
    unreachableHosts: planned.flatMap((host) =>
      host.plan === 'start' && host.pingStatus ? [{ hostId: host.hostId, pingStatus: host.pingStatus }] : [],
    ),
    stoppedHostIds: planned
      .filter((host) => host.plan === 'notStarted' && host.busyTaskId === undefined)
      .map((host) => host.hostId),
  };
}

/** Why a host held by another agent operation is not restarted: never twice at once. */
export function busyReason(hostId: number, taskId: number): string {
  return `Host ${hostId} already has a running agent operation: task ${taskId}; it is not restarted twice at once.`;
}

/** Refuses a batch naming a host that does not exist (404, naming them all), as a single restart does. */
export function requireKnownHosts(hosts: readonly PlanHost[]): void {
  const unknown = hosts.filter((host) => !host.known).map((host) => host.hostId);
  if (unknown.length > 0) throw new HostsNotFound(unknown);
}
