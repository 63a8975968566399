import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setDemoMode } from '../../local/demo-hosts.ts';
import type { LocalSystem } from '../../local/local-system.ts';
import { call, type Envelope, startTestSystem, tokenFor, waitForTask } from '../support/local-client.ts';

let system: LocalSystem;
let operator: string;

beforeAll(async () => {
  system = await startTestSystem({ demoHosts: 2 });
  operator = await tokenFor(system, 'alice', ['HOST_MANAGER', 'TASK_VIEWER', 'TASK_MANAGER']);
});

afterAll(async () => {
  await system?.stop();
});

const STOP_SUBTASK = 2;
const logPath = (taskId: number, subtaskId: number, cursor?: string) =>
  `/api/v2/tasks/instances/${taskId}/subtasks/${subtaskId}/log${cursor === undefined ? '' : `?cursor=${encodeURIComponent(cursor)}`}`;
const readLog = async (taskId: number, subtaskId: number, cursor?: string) => {
  const { status, envelope } = await call(system, 'GET', logPath(taskId, subtaskId, cursor), operator);
  expect(status, JSON.stringify(envelope.error)).toBe(200);
  return envelope.data as { log: string; truncated: boolean; running: boolean; cursor: string };
};
const nonEmptyLines = (text: string) => text.split('\n').filter((line) => line !== '');

describe('live subtask logs in local mode, over HTTP', () => {
  it('shows a running command’s output as it grows, the cursor answering only what is new, then the recorded log', async () => {
    // hang-stop: "Stop all OCP agent processes" prints its SIGTERMs, then waits out its 30 s grace;
    // once the test has seen its output stand still there, it cancels the command.
    setDemoMode(system.hosts[0]!, 'hang-stop');
    const { envelope } = await call(system, 'POST', '/compute/hosts/1/agent/restart', operator);
    const taskId: number = envelope.data.id;
    const stop = envelope.data.subtasks[STOP_SUBTASK];

    // Followed from before the command starts until its outcome is recorded.
    const answers: { log: string; running: boolean }[] = [];
    const first = await readLog(taskId, stop.id);
    let followed = first.log;
    let cursor = first.cursor;
    let wholeWhileRunning: string | undefined;
    let stillAnswers = 0;
    const deadline = Date.now() + 60_000;
    while (!followed.includes('\n=== attempt 1 ended · ')) {
      if (Date.now() > deadline) throw new Error(`The stop never ended: ${followed}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const answer = await readLog(taskId, stop.id, cursor);
      answers.push(answer);
      followed += answer.log;
      cursor = answer.cursor;
      if (!followed.includes('Waiting up to') || !answer.running) continue;
      wholeWhileRunning ??= (await readLog(taskId, stop.id)).log;
      if (answer.log === '' && ++stillAnswers === 3) {
        const cancel = await call(
          system,
          'POST',
          `${logPath(taskId, stop.id).replace(/log$/, 'cancel')}`,
          operator,
        );
        expect(cancel.status).toBe(200);
      }
    }

    // Output came while the command ran, before it ended.
    const whileRunning = answers
      .filter((answer) => answer.running)
      .map((answer) => answer.log)
      .join('');
    expect(whileRunning).toMatch(/^=== attempt 1 · command [\w-]+ · running ===\nStopping ocp_agentd \(pid/);
    expect(whileRunning).toContain('\nWaiting up to 30.000s');
    // While nothing was written (the grace), the cursor answered nothing: no line came twice.
    expect(stillAnswers).toBeGreaterThanOrEqual(3);
    expect(followed.match(/Stopping ocp_agentd \(pid/g)).toHaveLength(1);
    // The answer without a cursor, meanwhile, was the whole output so far.
    expect(wholeWhileRunning).toMatch(
      /=== attempt 1 · command [\w-]+ · running ===\nStopping [\s\S]*\nWaiting up to/,
    );

    // Once the attempt ended, the cursor answered how; without one, the log is as recorded.
    expect(followed).toMatch(/\n=== attempt 1 ended · command [\w-]+ · exit code \d+ · [^\n]+ ===$/);
    const recorded = await readLog(taskId, stop.id);
    expect(recorded.running).toBe(false);
    expect(recorded.log).toMatch(/^=== attempt 1 · command [\w-]+ · exit code \d+ · [^\n]+ ===\nStopping /);
    const followedLines = nonEmptyLines(followed);
    let at = 0;
    for (const line of nonEmptyLines(recorded.log).slice(1)) {
      at = followedLines.indexOf(line, at) + 1;
      expect(at, `"${line}" followed, in order`).toBeGreaterThan(0);
    }
    expect(await readLog(taskId, stop.id, cursor)).toMatchObject({ log: '', running: false, cursor });

    expect((await waitForTask(system, operator, taskId)).status).toBe('FAILED');
    setDemoMode(system.hosts[0]!, 'normal');
  });

  describe('refuses, changing nothing, a cursor', () => {
    let task: Envelope['data'];
    let stopCursor: string;
    beforeAll(async () => {
      const { envelope } = await call(system, 'POST', '/compute/hosts/2/agent/restart', operator);
      task = await waitForTask(system, operator, envelope.data.id);
      stopCursor = (await readLog(task.id, task.subtasks[STOP_SUBTASK].id)).cursor;
    });

    const refused = async (subtaskIndex: number, cursor: string) => {
      const { status, envelope } = await call(
        system,
        'GET',
        logPath(task.id, task.subtasks[subtaskIndex].id, cursor),
        operator,
      );
      return { status, error: envelope.error };
    };

    it.each([
      ['that is not one', 'not-a-cursor'],
      ['that is empty', ''],
      ['that was tampered with', Buffer.from('{"v":1,"t":1,"s":1,"e":0,"x":1}').toString('base64url')],
    ])('%s: 400, naming the cursor parameter', async (_, cursor) => {
      const { status, error } = await refused(STOP_SUBTASK, cursor);
      expect(status).toBe(400);
      expect(error).toMatchObject({ code: 10001, target: 'cursor' });
      expect(error?.message).toMatch(/^Invalid cursor: /);
    });

    it('of another subtask’s log: 400, saying so', async () => {
      const { status, error } = await refused(0, stopCursor);
      expect(status).toBe(400);
      expect(error).toMatchObject({ code: 10001, target: 'cursor' });
      expect(error?.message).toContain("another subtask's log");
      // The subtask's own cursor still reads, and the task is as it was.
      expect(await readLog(task.id, task.subtasks[STOP_SUBTASK].id, stopCursor)).toMatchObject({ log: '' });
      const { envelope } = await call(system, 'GET', `/api/v2/tasks/instances/${task.id}`, operator);
      expect(envelope.data).toEqual(task);
    });
  });
});
