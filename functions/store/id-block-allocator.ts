import { type IdBlock, idBlock, takeIds } from '#core/id-blocks';

/** What allocates consecutive ids from the shared counter (TaskStore.allocateIds). */
export interface IdCounter {
  allocateIds(count: number): Promise<number>;
}

/**
 * Hands out ids from a block this instance took from the counter, taking the next block (one counter
 * call) when the current one cannot serve a request. Concurrent requests of one instance share one
 * refill. Kept in module scope: one per function instance.
 */
export class IdBlockAllocator implements IdCounter {
  private block: IdBlock | undefined;
  private refill: Promise<void> | undefined;

  constructor(
    private readonly counter: IdCounter,
    private readonly blockSize: number,
  ) {}

  async allocateIds(count: number): Promise<number> {
    if (count > this.blockSize) return this.counter.allocateIds(count);
    for (;;) {
      const taken = takeIds(this.block, count);
      if (taken) {
        this.block = taken.rest;
        return taken.first;
      }
      this.refill ??= this.counter.allocateIds(this.blockSize).then(
        (first) => {
          this.block = idBlock(first, this.blockSize);
          this.refill = undefined;
        },
        (error: unknown) => {
          this.refill = undefined;
          throw error;
        },
      );
      await this.refill;
    }
  }
}
