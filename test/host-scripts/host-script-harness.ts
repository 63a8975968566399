import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createDemoHost,
  type DemoHost,
  type DemoMode,
  startDemoAgent,
  stopAllDemoHosts,
} from '#local/demo-hosts';

const SCRIPTS_DIR = fileURLToPath(new URL('../../host-scripts/', import.meta.url));

/** Small bounds so that a failing script fails fast; fast-mode processes exit at once on SIGTERM. */
export const FAST_SETTINGS = { STOP_GRACE_SECONDS: '2', KILL_WAIT_SECONDS: '2', START_WAIT_SECONDS: '5' };

export type ScriptResult = SpawnSyncReturns<string>;

/** The environment a host script gets: ours with FAST_SETTINGS and `set`, less `unset` and any AGENT_HOME. */
export function scriptEnv(set: Record<string, string>, unset: readonly string[] = []): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ['AGENT_HOME', ...Object.keys(FAST_SETTINGS)]) delete env[name];
  Object.assign(env, FAST_SETTINGS, set);
  for (const name of unset) delete env[name];
  return env;
}

/** Runs `bash host-scripts/<script>` with AGENT_HOME set, as a host would. */
export function runScript(
  script: string,
  agentHome: string,
  options: { env?: Record<string, string>; unset?: readonly string[]; timeoutMs?: number } = {},
): ScriptResult {
  return spawnSync('bash', [join(SCRIPTS_DIR, script)], {
    env: scriptEnv({ AGENT_HOME: agentHome, ...options.env }, options.unset),
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 20_000,
  });
}

/** A fresh temp root for demo hosts, and the clean-up that kills every process under it. */
export function demoRoot(): { root: string; cleanUp(): Promise<void> } {
  const root = mkdtempSync(join(tmpdir(), 'demo-hosts-'));
  return {
    root,
    async cleanUp() {
      await stopAllDemoHosts(root, { graceMs: 200 });
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Creates a demo host and starts its agent. */
export async function startedDemoHost(
  root: string,
  hostId: number,
  mode: DemoMode = 'fast',
): Promise<DemoHost> {
  const host = createDemoHost(root, hostId, { mode });
  await startDemoAgent(host);
  return host;
}

/** Polls `condition` until it holds, failing after `timeoutMs`. */
export async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() >= deadline) throw new Error(`Condition not met within ${timeoutMs} ms`);
    await new Promise((done) => setTimeout(done, 20));
  }
}
