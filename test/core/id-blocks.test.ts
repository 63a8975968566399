import { describe, expect, it } from 'vitest';
import { idBlock, takeIds } from '../../functions/core/id-blocks.ts';
import { IdBlockAllocator, type IdCounter } from '../../functions/store/id-block-allocator.ts';

describe('id blocks', () => {
  it('hand out consecutive ids until the block has too few', () => {
    const first = takeIds(idBlock(100, 12), 6);
    expect(first).toEqual({ first: 100, rest: { next: 106, end: 112 } });
    const second = takeIds(first!.rest, 6);
    expect(second).toEqual({ first: 106, rest: { next: 112, end: 112 } });
    expect(takeIds(second!.rest, 6)).toBeUndefined();
    expect(takeIds(idBlock(1, 5), 6)).toBeUndefined();
    expect(takeIds(undefined, 1)).toBeUndefined();
  });

  it('refuse a block that does not start at an id ≥ 1 or holds no id', () => {
    expect(() => idBlock(0, 6)).toThrow('An id block starts at an id ≥ 1, not 0');
    expect(() => idBlock(1.5, 6)).toThrow('An id block starts at an id ≥ 1, not 1.5');
    expect(() => idBlock(1, 0)).toThrow('An id block holds ≥ 1 id, not 0');
  });
});

/** The shared counter as DynamoDB's ADD keeps it: each call takes the next `count` ids. */
function counter(): IdCounter & { calls: number[]; failNext: boolean } {
  let next = 1;
  const state = {
    calls: [] as number[],
    failNext: false,
    async allocateIds(count: number) {
      state.calls.push(count);
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (state.failNext) {
        state.failNext = false;
        throw new Error('ProvisionedThroughputExceededException');
      }
      const first = next;
      next += count;
      return first;
    },
  };
  return state;
}

describe('IdBlockAllocator', () => {
  it('serves requests from its block, one counter call per block, concurrent requests sharing a refill', async () => {
    const shared = counter();
    const allocator = new IdBlockAllocator(shared, 12);
    const firsts = await Promise.all([1, 2, 3].map(() => allocator.allocateIds(6)));
    expect(firsts).toEqual([1, 7, 13]);
    expect(shared.calls).toEqual([12, 12]);
  });

  it('never hands out an id twice beside another instance on the same counter', async () => {
    const shared = counter();
    const a = new IdBlockAllocator(shared, 12);
    const b = new IdBlockAllocator(shared, 12);
    const firsts = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).allocateIds(6)));
    const ids = firsts.flatMap((first) => Array.from({ length: 6 }, (_, i) => first + i));
    expect(new Set(ids).size).toBe(60);
  });

  it('passes a refill’s failure to the requests waiting for it, and the next request tries again', async () => {
    const shared = counter();
    const allocator = new IdBlockAllocator(shared, 12);
    shared.failNext = true;
    const failed = await Promise.allSettled([allocator.allocateIds(6), allocator.allocateIds(6)]);
    expect(failed.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    expect(await allocator.allocateIds(6)).toBe(1);
    expect(shared.calls).toEqual([12, 12]);
  });

  it('asks the counter itself for more ids than a block holds', async () => {
    const shared = counter();
    const allocator = new IdBlockAllocator(shared, 12);
    expect(await allocator.allocateIds(30)).toBe(1);
    expect(shared.calls).toEqual([30]);
  });
});
