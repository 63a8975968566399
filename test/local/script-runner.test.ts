import { readdirSync, readFileSync } from 'node:fs';
import { getPriority, tmpdir } from 'node:os';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { BACKGROUND_NICE } from '../../local/cpu-priority.ts';
import { ScriptRunner } from '../../local/services/script-runner.ts';

const runner = new ScriptRunner();
afterAll(() => runner.close());

/** The fields of a task's stat after its name: [2] is its process group, [3] its session, [16] its nice. */
function statFields(taskDir: string): string[] {
  const stat = readFileSync(`${taskDir}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}
const threadNice = (taskDir: string) => Number(statFields(taskDir)[16]);

/** The script's pid, process group and session, as the kernel reports them. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: bash parameter expansions, not a template
const REPORT_GROUP = 'read -r stat < /proc/$$/stat; set -- ${stat##*) }; echo "$$ $3 $4"';
const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' };

/** The pids of the processes in /proc that match. */
function processesWhere(matches: (pid: string) => boolean): number[] {
  const safely = (pid: string) => {
    try {
      return matches(pid);
    } catch {
      return false; // It ended while being read.
    }
  };
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name) && safely(name))
    .map(Number);
}

/** The processes whose command line is exactly these words. */
const processesRunning = (...words: string[]) =>
  processesWhere((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8') === `${words.join('\0')}\0`);

/** The live (not zombie) processes of a process group: this machine's init may not reap orphans. */
const liveMembersOf = (group: number) =>
  processesWhere((pid) => {
    const fields = statFields(`/proc/${pid}`);
    return fields[0] !== 'Z' && Number(fields[2]) === group;
  });

describe.runIf(process.platform === 'linux')('ScriptRunner', () => {
  it('runs the demo hosts’ scripts at BACKGROUND_NICE, and leaves local mode’s own thread at its priority', async () => {
    const processNice = getPriority();
    const { exited } = runner.run({
      // The script's own nice value, as the kernel reports it (field 19 of its stat).
      // biome-ignore lint/suspicious/noTemplateCurlyInString: bash parameter expansions, not a template
      script: 'read -r stat < /proc/$$/stat; set -- ${stat##*) }; echo "${17}"',
      cwd: tmpdir(),
      env,
    });
    const exit = await exited;
    expect([exit.code, exit.stdout.trim()]).toEqual([0, String(Math.max(processNice, BACKGROUND_NICE))]);
    expect(getPriority()).toBe(processNice);
    expect(threadNice('/proc/thread-self')).toBe(processNice);
  });

  it('runs each script as the SSM agent does: a process group of its own, in local mode’s session', async () => {
    const { exited } = runner.run({ script: REPORT_GROUP, cwd: tmpdir(), env });
    const exit = await exited;
    const [pid, group, session] = exit.stdout.trim().split(' ');
    expect(exit.code).toBe(0);
    expect(group).toBe(pid);
    expect(session).toBe(statFields('/proc/self')[3]);
  });

  it('kills the script’s whole group on stop, its background processes too', async () => {
    const { stop, exited } = runner.run(
      {
        script: 'sleep 30 & echo "$$ $!"; wait',
        cwd: tmpdir(),
        env,
      },
      (channel) => {
        if (channel === 'stdout') stop();
      },
    );
    const exit = await exited;
    const [script = 0, background = 0] = exit.stdout.trim().split(' ').map(Number);
    expect([exit.stopped, exit.signal, script > 0, background > 0]).toEqual([true, 'SIGKILL', true, true]);
    await expect.poll(() => liveMembersOf(script)).toEqual([]);
  });

  it('stops a script stopped before it has made its group, and reports it stopped', async () => {
    for (let attempt = 0; attempt < 20; attempt++) {
      const { stop, exited } = runner.run({ script: 'sleep 30.017', cwd: tmpdir(), env });
      stop();
      const exit = await exited;
      expect([exit.stopped, exit.signal]).toEqual([true, 'SIGKILL']);
    }
    // Nothing left behind, whether the stop came before perl made the group or after.
    await expect.poll(() => processesRunning('sleep', '30.017')).toEqual([]);
  });

  it('runs scripts in a session of their own, with a warning, when there is no perl to make the group', async () => {
    const stderr = vi.spyOn(process.stderr, 'write');
    const sessionRunner = new ScriptRunner('/nonexistent/perl');
    try {
      const { exited } = sessionRunner.run({ script: REPORT_GROUP, cwd: tmpdir(), env });
      const exit = await exited;
      const [pid, group, session] = exit.stdout.trim().split(' ');
      expect([exit.code, group, session]).toEqual([0, pid, pid]);
      const { stop, exited: stopped } = sessionRunner.run({ script: 'sleep 30', cwd: tmpdir(), env });
      stop();
      expect((await stopped).stopped).toBe(true);
      const written = stderr.mock.calls.map(([chunk]) => String(chunk)).join('');
      expect(written).toContain('no /nonexistent/perl to start scripts in a process group');
    } finally {
      stderr.mockRestore();
      await sessionRunner.close();
    }
  });
});
