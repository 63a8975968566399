import { describe, expect, it } from 'vitest';
import { agentHealthProblem, restartedPids } from '#core/agent-health';

/** What finish-operation.sh printed on a host whose four processes were restarted. */
const FINISH_OUTPUT = [
  'ocp_agentd is running with new pid 4101 (before the restart: 3101)',
  'ocp_mgragent is running with new pid 4102 (before the restart: 3102)',
  'ocp_monagent is running with new pid 4103 (before the restart: not running)',
  'pos_proxy is running with new pid 4104 (before the restart: unknown)',
  'OCP agent is healthy; removed the restart state /home/admin/ocp_agent/run/restart',
].join('\n');

const running = (name: string, pid: number) => ({ name, pid, running: true });

describe('restartedPids', () => {
  it('reads each process’s new pid from the Finish subtask’s output', () => {
    expect(restartedPids(FINISH_OUTPUT)).toEqual(
      new Map([
        ['ocp_agentd', 4101],
        ['ocp_mgragent', 4102],
        ['ocp_monagent', 4103],
        ['pos_proxy', 4104],
      ]),
    );
  });

  it('reads nothing from output without such lines, nor from a line that only resembles one', () => {
    expect(restartedPids('')).toEqual(new Map());
    expect(
      restartedPids(
        'finish-operation: WARNING: no restart record (already finished?): checking liveness only\n' +
          'x is running with new pid 12 (before the restart: 3) and more\n' +
          'Evil Name is running with new pid 12 (before the restart: 3)',
      ),
    ).toEqual(new Map());
  });
});

describe('agentHealthProblem', () => {
  const restarted = restartedPids(FINISH_OUTPUT);
  const healthy = [
    running('ocp_agentd', 4101),
    running('ocp_mgragent', 4102),
    running('ocp_monagent', 4103),
    running('pos_proxy', 4104),
  ];

  it('passes an agent whose processes all run with the pids the restart started', () => {
    expect(agentHealthProblem(restarted, healthy, 30)).toBeUndefined();
  });

  it('fails an agent one of whose processes is not running, naming it and the wait', () => {
    const stopped = healthy.map((process) =>
      process.name === 'ocp_monagent' ? { name: 'ocp_monagent', pid: null, running: false } : process,
    );

    expect(agentHealthProblem(restarted, stopped, 30)).toBe(
      'Health check failed: agent process ocp_monagent is not running 30 s after its restart.',
    );
  });

  it('fails an agent whose process runs with another pid than the restart started, naming both', () => {
    const replaced = healthy.map((process) =>
      process.name === 'pos_proxy' ? running('pos_proxy', 5000) : process,
    );

    expect(agentHealthProblem(restarted, replaced, 45)).toBe(
      "Health check failed: agent process pos_proxy's pid changed from 4104 to 5000 within 45 s of its restart.",
    );
  });

  it('names every problem at once, a process missing from the status too', () => {
    const problem = agentHealthProblem(
      restarted,
      [
        running('ocp_agentd', 1),
        { name: 'ocp_mgragent', pid: null, running: false },
        running('ocp_monagent', 4103),
      ],
      10,
    );

    expect(problem).toContain("ocp_agentd's pid changed from 4101 to 1");
    expect(problem).toContain('ocp_mgragent is not running 10 s after its restart');
    expect(problem).toContain("pos_proxy is missing from the agent's status");
  });

  it('checks only that the processes run when the restart reported no pid', () => {
    expect(agentHealthProblem(new Map(), healthy, 30)).toBeUndefined();
    expect(agentHealthProblem(new Map(), [{ name: 'ocp_agentd', pid: null, running: false }], 30)).toContain(
      'ocp_agentd is not running',
    );
  });
});
