import { describe, expect, it } from 'vitest';
import { type AgentProcessState, judgeAgentProcesses } from '#core/agent-status';

const NAMES = ['ocp_agentd', 'ocp_mgragent', 'ocp_monagent', 'pos_proxy'];
const processes = (...running: boolean[]): AgentProcessState[] =>
  NAMES.map((name, i) => ({ name, pid: running[i] ? 100 + i : null, running: running[i] ?? false }));

describe('judgeAgentProcesses', () => {
  it('says STARTED when every process runs', () => {
    expect(judgeAgentProcesses(processes(true, true, true, true))).toEqual({
      status: 'STARTED',
      summary: '4 of 4 agent processes run.',
    });
  });

  it('says STOPPED, naming them, when no process runs', () => {
    expect(judgeAgentProcesses(processes(false, false, false, false))).toEqual({
      status: 'STOPPED',
      summary: '0 of 4 agent processes run: ocp_agentd, ocp_mgragent, ocp_monagent, pos_proxy do not run.',
    });
  });

  it('says PARTIAL, naming which run and which do not, when 3 of 4 run', () => {
    expect(judgeAgentProcesses(processes(true, true, true, false))).toEqual({
      status: 'PARTIAL',
      summary: '3 of 4 agent processes run (ocp_agentd, ocp_mgragent, ocp_monagent); not running: pos_proxy.',
    });
  });

  it('says PARTIAL when only one runs', () => {
    expect(judgeAgentProcesses(processes(false, true, false, false))).toMatchObject({
      status: 'PARTIAL',
      summary: '1 of 4 agent processes run (ocp_mgragent); not running: ocp_agentd, ocp_monagent, pos_proxy.',
    });
  });

  it('names a single process that does not run in the singular', () => {
    const one = [{ name: 'ocp_agentd', pid: null, running: false }];
    expect(judgeAgentProcesses(one).summary).toBe('0 of 1 agent processes run: ocp_agentd does not run.');
  });
});
