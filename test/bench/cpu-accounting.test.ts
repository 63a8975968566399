import { spawn } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { cpuSnapshot, cpuUse } from '../../bench/cpu-accounting.ts';

/** Spins the calling thread for `ms`. */
function spin(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) Math.sqrt(Math.random());
}

describe.runIf(process.platform === 'linux')('the benchmarks’ CPU accounting', () => {
  it('counts the main thread’s CPU, and a thread’s only when it is named', async () => {
    const worker = new Worker(
      `const { parentPort } = require('node:worker_threads');
       const tid = Number(require('node:fs').readFileSync('/proc/thread-self/stat', 'utf8').split(' ')[0]);
       parentPort.on('message', (ms) => { const end = performance.now() + ms; while (performance.now() < end) Math.sqrt(Math.random()); parentPort.postMessage(tid); });
       parentPort.postMessage(tid);`,
      { eval: true },
    );
    try {
      const next = () => new Promise<number>((resolve) => worker.once('message', resolve));
      const threadId = await next();
      const before = cpuSnapshot([threadId])!;
      const spun = next();
      worker.postMessage(300);
      expect(await spun).toBe(threadId);
      spin(200);
      const after = cpuSnapshot([threadId])!;
      const unnamed = cpuUse(cpuSnapshot([])!, cpuSnapshot([])!);

      const use = cpuUse(before, after);
      expect(use.api.runMs).toBeGreaterThanOrEqual(250);
      expect(use.mainThread.runMs).toBeGreaterThanOrEqual(150);
      expect(use.machineBusy).toBeGreaterThan(0);
      expect(use.machineBusy).toBeLessThanOrEqual(100);
      expect(unnamed.api).toEqual({ runMs: 0, waitMs: 0 });
    } finally {
      await worker.terminate();
    }
  });

  it('counts a child-process instance’s CPU by its pid, all its threads together', async () => {
    const child = spawn(
      process.execPath,
      [
        '-e',
        `process.on('message', (ms) => { const end = performance.now() + ms; while (performance.now() < end) Math.sqrt(Math.random()); process.send('spun'); });
         process.send('ready');`,
      ],
      { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] },
    );
    try {
      const next = () => new Promise<unknown>((resolve) => child.once('message', resolve));
      await next();
      const pid = child.pid!;
      const before = cpuSnapshot([pid])!;
      const spun = next();
      child.send(300);
      await spun;
      const after = cpuSnapshot([pid])!;

      const use = cpuUse(before, after);
      // /proc/<pid>/stat counts in clock ticks of 10 ms.
      expect(use.api.runMs).toBeGreaterThanOrEqual(250);
      expect(use.api.waitMs).toBeGreaterThanOrEqual(0);
      expect(cpuUse(before, cpuSnapshot([])!).api).toEqual({ runMs: 0, waitMs: 0 });
    } finally {
      child.kill();
    }
  });
});
