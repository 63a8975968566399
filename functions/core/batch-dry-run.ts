import type { InstancePing } from './command-outcome.ts';
import type { PlanHost, RolloutPlan, RolloutSettings } from './rollout.ts';

/**
 * What a dry run of batchRestartAgents answers (HTTP 200, nothing written, nothing started): every host
 * as the plan sees it, in the order of the request, and the plan's waves and estimate.
 */
export interface DryRunAnswer {
  dryRun: true;
  rollout: RolloutSettings;
  hostCount: number;
  waves: number;
  /** waves × (ESTIMATED_RESTART_SECONDS + healthCheckSeconds). */
  estimatedSeconds: number;
  hosts: DryRunHost[];
  /** Hosts that do not exist: a real run is refused (404) while any is named. */
  unknownHostIds: number[];
  busyHosts: { hostId: number; taskId: number }[];
  unreachableHosts: { hostId: number; pingStatus: Exclude<InstancePing, 'Online'> }[];
  /** Hosts the error threshold would stop before their turn. */
  stoppedHostIds: number[];
}

export interface DryRunHost {
  hostId: number;
  index: number;
  known: boolean;
  /** The task of the agent operation holding the host now. */
  busyTaskId?: number;
  pingStatus?: InstancePing;
  plan: 'start' | 'notStarted' | 'unknown';
  /** For a host planned to start: its wave, 1 first. */
  wave?: number;
  /** Why the host would not start. */
  reason?: string;
}

/**
 * What one restart is expected to take, for the estimate: its subtasks' scripts wait at most 17 s
 * (pos proxy), 40 s (stop) and 30 s (start) by their budgets, plus SSM's delivery of five commands;
 * 200 demo hosts restarted at once took 36 s in local mode (README, Figures). The timeouts (1,380 s in
 * all) bound a restart, not its usual time.
 */
export const ESTIMATED_RESTART_SECONDS = 60;

export function toDryRunAnswer(hosts: readonly PlanHost[], plan: RolloutPlan): DryRunAnswer {
  return {
    dryRun: true,
    rollout: plan.settings,
    hostCount: hosts.length,
    waves: plan.waves,
    estimatedSeconds: plan.estimatedSeconds,
    hosts: plan.hosts.map((planned): DryRunHost => {
      const host = hosts[planned.index]!;
      return {
        hostId: planned.hostId,
        index: planned.index,
        known: host.known,
        ...(host.busyTaskId === undefined ? {} : { busyTaskId: host.busyTaskId }),
        ...(host.pingStatus === undefined ? {} : { pingStatus: host.pingStatus }),
        plan: planned.plan,
        ...(planned.plan === 'start' ? { wave: planned.wave } : { reason: planned.reason }),
      };
    }),
    unknownHostIds: plan.unknownHostIds,
    busyHosts: plan.busyHosts,
    unreachableHosts: plan.unreachableHosts,
    stoppedHostIds: plan.stoppedHostIds,
  };
}
