// The calling thread's id, and lowering its CPU priority (local/cpu-priority.ts says why). Plain
// CommonJS, so that local mode's workers load it without a TypeScript loader.
const { readdirSync, readFileSync } = require('node:fs');
const { getPriority, setPriority } = require('node:os');

/** The calling thread's id in the system (Linux, from /proc/thread-self); undefined elsewhere. */
function currentThreadId() {
  try {
    return Number(readFileSync('/proc/thread-self/stat', 'utf8').split(' ')[0]);
  } catch {
    return undefined;
  }
}
exports.currentThreadId = currentThreadId;

/**
 * Sets thread `threadId`'s nice value to `nice` unless it already runs at that or lower; if the
 * system refuses, the thread keeps its priority.
 */
function lowerPriorityOf(threadId, nice) {
  try {
    if (getPriority(threadId) < nice) setPriority(threadId, nice);
  } catch {
    // The system refused (or the thread ended): the thread keeps its priority.
  }
}
exports.lowerPriorityOf = lowerPriorityOf;

/**
 * Lowers the calling thread's nice value to `nice` (lowerPriorityOf). Linux only: a thread is named
 * by its id, read from /proc/thread-self; elsewhere the thread keeps its process's priority.
 */
exports.lowerThreadPriority = function lowerThreadPriority(nice) {
  const threadId = currentThreadId();
  if (threadId !== undefined) lowerPriorityOf(threadId, nice);
};

/**
 * Lowers every thread of the calling process to `nice` (lowerPriorityOf), each named by its id in
 * /proc/self/task; threads started later inherit it from the thread that starts them. Linux only.
 */
exports.lowerProcessPriority = function lowerProcessPriority(nice) {
  let threads;
  try {
    threads = readdirSync('/proc/self/task');
  } catch {
    return;
  }
  for (const threadId of threads) lowerPriorityOf(Number(threadId), nice);
};
