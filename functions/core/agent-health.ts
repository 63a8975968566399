import type { AgentProcessState } from './agent-status.ts';

/**
 * A batch's health check: some seconds after a host's restart succeeded, the agent must still run with
 * the processes the restart started. "Finish OCP agent operation" (host-scripts/finish-operation.sh)
 * logs each new process as `<name> is running with new pid <pid> (before the restart: <old pid>)`;
 * the host's agent status must then show every process running, each with that pid. A pid that
 * changed means the process died and was started again (by the agent's own daemon, or by hand) in
 * between: the restart did not leave a stable agent.
 */

/** finish-operation.sh's line for a new process; names as its previous-pids record accepts them. */
const RESTARTED_PROCESS =
  /^([a-z_]{1,32}) is running with new pid ([1-9][0-9]{0,9}) \(before the restart: [^)\n]*\)$/gm;

/** Each process the restart started and its pid, from the Finish subtask's output; later lines win. */
export function restartedPids(finishOutput: string): Map<string, number> {
  const pids = new Map<string, number>();
  for (const [, name, pid] of finishOutput.matchAll(RESTARTED_PROCESS)) pids.set(name!, Number(pid));
  return pids;
}

/**
 * Why the agent fails its health check, `seconds` after its restart; undefined when it passes. Every
 * process the status reports must run; one the restart reported must run with the pid it reported.
 */
export function agentHealthProblem(
  restarted: ReadonlyMap<string, number>,
  processes: readonly AgentProcessState[],
  seconds: number,
): string | undefined {
  const problems: string[] = [];
  for (const process of processes) {
    const expected = restarted.get(process.name);
    if (!process.running || process.pid === null)
      problems.push(`agent process ${process.name} is not running ${seconds} s after its restart`);
    else if (expected !== undefined && process.pid !== expected)
      problems.push(
        `agent process ${process.name}'s pid changed from ${expected} to ${process.pid} within ${seconds} s of its restart`,
      );
  }
  for (const name of restarted.keys()) {
    if (!processes.some((process) => process.name === name))
      problems.push(
        `agent process ${name} is missing from the agent's status ${seconds} s after its restart`,
      );
  }
  return problems.length === 0 ? undefined : `Health check failed: ${problems.join('; ')}.`;
}
