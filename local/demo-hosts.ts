/**
 * Local mode's demo hosts: folders laid out like a real OCP agent install, whose agent processes are
 * real processes run by local/demo-agent/ocp_agentctl. The host scripts and SSM documents
 * act on them exactly as on a real host.
 */
import { spawn } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { isValidHostParameter } from '#core/host-parameters';

/** The agent's processes, in start order (the same list as host-scripts/agent-lib.sh). */
export const AGENT_PROCESS_NAMES = ['ocp_agentd', 'ocp_mgragent', 'ocp_monagent', 'pos_proxy'] as const;
export type AgentProcessName = (typeof AGENT_PROCESS_NAMES)[number];

/** How a demo host's agent behaves; see the header of local/demo-agent/ocp_agentctl. */
export const DEMO_MODES = ['normal', 'fast', 'broken', 'hang-stop', 'stubborn', 'verbose'] as const;
export type DemoMode = (typeof DEMO_MODES)[number];

/** A demo host: `agentHome` is what the host registry records for it. */
export interface DemoHost {
  hostId: number;
  instanceId: string;
  hostDir: string;
  agentHome: string;
}

/** One agent process as its pid file records it; `pid` may be stale when `running` is false. */
export interface DemoAgentProcess {
  name: AgentProcessName;
  pid: number | null;
  running: boolean;
}

/** Environment variable every demo agent process carries: its host's agentHome. */
const HOST_MARKER = 'OCP_DEMO_AGENT_HOME';
const AGENT_FILES = ['ocp_agentctl', 'agent-process.sh'] as const;
const MODE_MARKERS: readonly DemoMode[] = DEMO_MODES.filter((mode) => mode !== 'normal');
const START_TIMEOUT_MS = 30_000;
/** The control script's output, in run/ (the names host-scripts/agent-lib.sh's run_detached uses). */
const CTL_STDOUT_FILE = 'ocp_agentctl-start.out';
const CTL_STDERR_FILE = 'ocp_agentctl-start.err';
const POLL_MS = 20;

/** A valid SSM managed-instance id for a demo host: "mi-" and the host id as 17 hex digits. */
export function demoInstanceId(hostId: number): string {
  if (!Number.isSafeInteger(hostId) || hostId <= 0) {
    throw new RangeError(`A demo host id must be a positive safe integer, got ${hostId}`);
  }
  return `mi-${hostId.toString(16).padStart(17, '0')}`;
}

function demoHostAt(root: string, hostId: number): DemoHost {
  const hostDir = join(resolve(root), `host-${hostId}`);
  return { hostId, instanceId: demoInstanceId(hostId), hostDir, agentHome: join(hostDir, 'ocp_agent') };
}

function confDir(host: DemoHost): string {
  return join(host.agentHome, 'conf');
}

/** Writes `file` only when its content changes, by rename, so running scripts keep their old copy. */
function installFile(file: string, content: Buffer, mode: number): void {
  if (existsSync(file) && readFileSync(file).equals(content)) return;
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, content);
  chmodSync(temporary, mode);
  renameSync(temporary, file);
}

/**
 * Creates (or refreshes) the demo host `<root>/host-<hostId>/` with its agent install in
 * `ocp_agent/`. Idempotent: an existing host keeps its running processes, and its mode unless
 * `options.mode` is given. Throws when the install path is not a valid agentHome parameter.
 */
export function createDemoHost(root: string, hostId: number, options: { mode?: DemoMode } = {}): DemoHost {
  const host = demoHostAt(root, hostId);
  if (!isValidHostParameter('agentHome', host.agentHome)) {
    throw new Error(`Demo host path ${host.agentHome} is not a valid agentHome; choose a plainer root`);
  }
  const ctl = join(host.agentHome, 'bin', 'ocp_agentctl');
  const existed = existsSync(ctl);
  for (const dir of ['bin', 'run', 'log', 'conf']) mkdirSync(join(host.agentHome, dir), { recursive: true });
  for (const file of AGENT_FILES) {
    const source = readFileSync(new URL(`./demo-agent/${file}`, import.meta.url));
    installFile(join(host.agentHome, 'bin', file), source, 0o755);
  }
  if (options.mode !== undefined || !existed) setDemoMode(host, options.mode ?? 'normal');
  return host;
}

/**
 * Switches a demo host's mode. The control script reads it on every call and the processes when
 * SIGTERM arrives, so it applies to running processes too.
 */
export function setDemoMode(host: DemoHost, mode: DemoMode): void {
  const conf = confDir(host);
  for (const marker of MODE_MARKERS) rmSync(join(conf, marker), { force: true });
  if (mode !== 'normal') writeFileSync(join(conf, mode), `demo mode ${mode}\n`);
}

/** The host's current mode (the first marker found; "normal" when none). */
export function demoMode(host: DemoHost): DemoMode {
  return MODE_MARKERS.find((marker) => existsSync(join(confDir(host), marker))) ?? 'normal';
}

/** True for a live process: it exists and is not a zombie waiting to be reaped. */
export function isLiveProcess(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** As the host scripts judge it: a live process with an argument named `name` (guards pid reuse). */
function isAgentProcess(pid: number, name: string): boolean {
  if (!isLiveProcess(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1')
      .split('\0')
      .some((arg) => arg.slice(arg.lastIndexOf('/') + 1) === name);
  } catch {
    return false;
  }
}

function recordedPid(host: DemoHost, name: AgentProcessName): number | null {
  try {
    const text = readFileSync(join(host.agentHome, 'run', `${name}.pid`), 'utf8').trim();
    return /^[1-9][0-9]{0,9}$/.test(text) ? Number(text) : null;
  } catch {
    return null;
  }
}

/** The host's agent processes, read from their pid files. */
export function demoAgentProcesses(host: DemoHost): DemoAgentProcess[] {
  return AGENT_PROCESS_NAMES.map((name) => {
    const pid = recordedPid(host, name);
    return { name, pid, running: pid !== null && isAgentProcess(pid, name) };
  });
}

/**
 * Starts the host's agent processes with its ocp_agentctl (those already running are kept) and
 * returns their pids. Rejects when the control script fails (e.g. in mode "broken"). The control
 * script does not detach what it starts, so it runs detached here, as host-scripts/agent-lib.sh's
 * run_detached runs it: its own session, stdin closed, output appended to files in run/.
 */
export async function startDemoAgent(host: DemoHost): Promise<Record<AgentProcessName, number>> {
  const ctl = join(host.agentHome, 'bin', 'ocp_agentctl');
  const stderrFile = join(host.agentHome, 'run', CTL_STDERR_FILE);
  const stderrStart = fileSize(stderrFile);
  const exit = await runDetached(ctl, ['start'], join(host.agentHome, 'run', CTL_STDOUT_FILE), stderrFile);
  if (exit !== 0) {
    const stderr = readFrom(stderrFile, stderrStart).trim();
    throw new Error(
      `ocp_agentctl start failed on demo host ${host.hostId}: ${stderr || `it ended with ${exit}`}`,
    );
  }
  const pids: Partial<Record<AgentProcessName, number>> = {};
  for (const agentProcess of demoAgentProcesses(host)) {
    if (!agentProcess.running || agentProcess.pid === null) {
      throw new Error(`${agentProcess.name} is not running on demo host ${host.hostId} after its start`);
    }
    pids[agentProcess.name] = agentProcess.pid;
  }
  return pids as Record<AgentProcessName, number>;
}

/** Runs a command in its own session with output appended to files; resolves to its exit code or signal. */
function runDetached(
  command: string,
  args: string[],
  stdoutFile: string,
  stderrFile: string,
): Promise<number | string> {
  const stdout = openSync(stdoutFile, 'a');
  const stderr = openSync(stderrFile, 'a');
  try {
    const child = spawn(command, args, { detached: true, stdio: ['ignore', stdout, stderr] });
    return new Promise((resolve) => {
      // Only the control script: its group is also its processes'.
      const timer = setTimeout(() => child.kill('SIGKILL'), START_TIMEOUT_MS);
      child.once('error', (error) => {
        clearTimeout(timer);
        resolve(error.message);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        resolve(code ?? signal ?? 'an unknown status');
      });
    });
  } finally {
    closeSync(stdout);
    closeSync(stderr);
  }
}

function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

function readFrom(file: string, offset: number): string {
  try {
    return readFileSync(file).subarray(offset).toString('utf8');
  } catch {
    return '';
  }
}

/** Pids of live processes whose environment marks them as agents of a matching install. */
function markedProcesses(matches: (agentHome: string) => boolean): number[] {
  const prefix = `${HOST_MARKER}=`;
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue;
    let environ: string;
    try {
      environ = readFileSync(`/proc/${entry}/environ`, 'latin1');
    } catch {
      continue;
    }
    const marker = environ.split('\0').find((variable) => variable.startsWith(prefix));
    if (marker && matches(marker.slice(prefix.length))) pids.push(Number(entry));
  }
  return pids;
}

function signal(pids: readonly number[], name: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, name);
    } catch {
      // Already gone.
    }
  }
}

async function waitForExit(pids: readonly number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const alive = pids.filter(isLiveProcess);
    if (alive.length === 0 || Date.now() >= deadline) return alive;
    await new Promise((done) => setTimeout(done, POLL_MS));
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; rejects if a process survives SIGKILL for 5 s. */
async function terminate(pids: readonly number[], graceMs: number): Promise<void> {
  if (pids.length === 0) return;
  signal(pids, 'SIGTERM');
  const stubborn = await waitForExit(pids, graceMs);
  signal(stubborn, 'SIGKILL');
  const survivors = await waitForExit(stubborn, 5_000);
  if (survivors.length > 0) throw new Error(`Demo agent processes survived SIGKILL: ${survivors.join(', ')}`);
}

function removePidFiles(host: DemoHost): void {
  for (const name of AGENT_PROCESS_NAMES) {
    rmSync(join(host.agentHome, 'run', `${name}.pid`), { force: true });
  }
}

/**
 * Ends every agent process of the host, whether or not a pid file still names it (they are found
 * by the OCP_DEMO_AGENT_HOME variable in their environment): SIGTERM, SIGKILL after `graceMs`.
 */
export async function stopDemoHost(host: DemoHost, options: { graceMs?: number } = {}): Promise<void> {
  await terminate(
    markedProcesses((agentHome) => agentHome === host.agentHome),
    options.graceMs ?? 1_000,
  );
  removePidFiles(host);
}

function demoHostsUnder(root: string): DemoHost[] {
  const base = resolve(root);
  if (!existsSync(base)) return [];
  return readdirSync(base)
    .map((entry) => /^host-([1-9][0-9]*)$/.exec(entry)?.[1])
    .filter((id): id is string => id !== undefined && Number.isSafeInteger(Number(id)))
    .map((id) => demoHostAt(base, Number(id)));
}

/** Ends the agent processes of every demo host under `root` (see stopDemoHost). */
export async function stopAllDemoHosts(root: string, options: { graceMs?: number } = {}): Promise<void> {
  const prefix = `${resolve(root)}/`;
  await terminate(
    markedProcesses((agentHome) => agentHome.startsWith(prefix)),
    options.graceMs ?? 1_000,
  );
  for (const host of demoHostsUnder(root)) removePidFiles(host);
}

/** SIGKILLs every demo agent process under `root` at once: for `process.on('exit')`, which cannot wait. */
export function killAllDemoHostsSync(root: string): void {
  const prefix = `${resolve(root)}/`;
  signal(
    markedProcesses((agentHome) => agentHome.startsWith(prefix)),
    'SIGKILL',
  );
}
