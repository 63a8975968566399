/**
 * Task ids taken from the shared counter in blocks, one block per function instance: a restart
 * request then makes no counter call of its own while its instance's block lasts. Ids stay unique
 * (each block is one atomic ADD on the counter) and increase within an instance; across instances a
 * task may get a lower id than one another instance created a moment before, and the ids of a block
 * an instance never used are skipped, as a failed request's are.
 */
export const TASKS_PER_ID_BLOCK = 8;

/** The ids of a block still free: `next` up to `end` (exclusive). */
export interface IdBlock {
  next: number;
  end: number;
}

/** A block of `size` ids starting at `first`, as one counter call allocated it. */
export function idBlock(first: number, size: number): IdBlock {
  if (!Number.isSafeInteger(first) || first < 1)
    throw new Error(`An id block starts at an id ≥ 1, not ${first}`);
  if (!Number.isSafeInteger(size) || size < 1) throw new Error(`An id block holds ≥ 1 id, not ${size}`);
  return { next: first, end: first + size };
}

/** The first of `count` consecutive ids from the block, and what is left of it; undefined if it has too few. */
export function takeIds(
  block: IdBlock | undefined,
  count: number,
): { first: number; rest: IdBlock } | undefined {
  if (!block || block.end - block.next < count) return undefined;
  return { first: block.next, rest: { next: block.next + count, end: block.end } };
}
