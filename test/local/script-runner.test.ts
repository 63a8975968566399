import { readFileSync } from 'node:fs';
import { getPriority, tmpdir } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { BACKGROUND_NICE } from '../../local/cpu-priority.ts';
import { ScriptRunner } from '../../local/services/script-runner.ts';

const runner = new ScriptRunner();
afterAll(() => runner.close());

/** The nice value of a thread of this process (field 19 of its stat). */
function threadNice(taskDir: string): number {
  const stat = readFileSync(`${taskDir}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}

describe.runIf(process.platform === 'linux')('ScriptRunner', () => {
  it('runs the demo hosts’ scripts at BACKGROUND_NICE, and leaves local mode’s own thread at its priority', async () => {
    const processNice = getPriority();
    const { exited } = runner.run({
      // The script's own nice value, as the kernel reports it (field 19 of its stat).
      // biome-ignore lint/suspicious/noTemplateCurlyInString: bash parameter expansions, not a template
      script: 'read -r stat < /proc/$$/stat; set -- ${stat##*) }; echo "${17}"',
      cwd: tmpdir(),
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    });
    const exit = await exited;
    expect([exit.code, exit.stdout.trim()]).toEqual([0, String(Math.max(processNice, BACKGROUND_NICE))]);
    expect(getPriority()).toBe(processNice);
    expect(threadNice('/proc/thread-self')).toBe(processNice);
  });
});
