import { join } from 'node:path';

/**
 * CPU priority (nice value) of the work in local mode that no HTTP request waits for: the instances
 * of every function but those behind the API's routes, the demo hosts' scripts, and DynamoDB Local's
 * JIT compiler threads (local/dynamodb-local.ts). On AWS each function instance has a CPU of its own
 * and the scripts run on the hosts; here they all share the machine's cores, and with a fleet's
 * workflows running an API answer took ~8× as long as alone, waiting for CPU behind them
 * (BENCHMARKS.md, issue 15). At nice 10 that work gets the cores the API's instances, local mode's
 * endpoints and DynamoDB Local's request threads leave free; it is never starved, only served after
 * them. That holds only for work in local mode's own scheduling group: with the kernel's autogroup
 * scheduling (sched_autogroup_enabled) each session is weighed as one, whatever its nice values, so
 * the script runner starts scripts in a process group of local mode's session, as the SSM agent
 * does, not in a session of their own (services/script-runner.ts).
 */
export const BACKGROUND_NICE = 10;

/** The module a worker loads to lower its own thread's priority (plain CommonJS, see inside). */
export const THREAD_PRIORITY_MODULE = join(__dirname, 'thread-priority.cjs');
