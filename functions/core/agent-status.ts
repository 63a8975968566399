/** One agent process as the host reports it; `pid` is null when it does not run. */
export interface AgentProcessState {
  name: string;
  pid: number | null;
  running: boolean;
}

/** STARTED: every agent process runs; STOPPED: none does; PARTIAL: some do, some do not. */
export type AgentState = 'STARTED' | 'PARTIAL' | 'STOPPED';

/** The agent's state from its processes, and a sentence naming those that do not run. */
export function judgeAgentProcesses(processes: readonly AgentProcessState[]): {
  status: AgentState;
  summary: string;
} {
  const running = processes.filter((process) => process.running).map((process) => process.name);
  const stopped = processes.filter((process) => !process.running).map((process) => process.name);
  const status: AgentState = stopped.length === 0 ? 'STARTED' : running.length === 0 ? 'STOPPED' : 'PARTIAL';
  const counted = `${running.length} of ${processes.length} agent processes run`;
  const summary =
    status === 'STARTED'
      ? `${counted}.`
      : status === 'STOPPED'
        ? `${counted}: ${stopped.join(', ')} ${stopped.length === 1 ? 'does' : 'do'} not run.`
        : `${counted} (${running.join(', ')}); not running: ${stopped.join(', ')}.`;
  return { status, summary };
}

/** A host's agent as GET /compute/hosts/{hostId}/agent answers it. */
export interface AgentStatus {
  hostId: number;
  status: AgentState;
  /** Which processes run and which do not, in a sentence. */
  summary: string;
  processes: AgentProcessState[];
  checkedAt: string;
}
