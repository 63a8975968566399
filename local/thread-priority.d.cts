// Types of thread-priority.cjs, for the TypeScript modules that import it.
export function currentThreadId(): number | undefined;
export function lowerPriorityOf(threadId: number, nice: number): void;
export function lowerThreadPriority(nice: number): void;
export function lowerProcessPriority(nice: number): void;
