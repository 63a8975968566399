/** How many tasks of one creation bucket match a listing's filters. */
export interface BucketCount {
  bucket: string;
  count: number;
}

/** Where one page of a listing lies: the buckets that hold it, newest first, and the matches to pass over in the first. */
export interface PagePlan {
  buckets: string[];
  skip: number;
}

/**
 * The buckets to read for page `page` (from 0) of `size` tasks, from the buckets' counts, newest
 * bucket first: the buckets before the page are passed over whole by their counts, and none after it
 * is read. Buckets without a match are left out; a page past the end reads nothing.
 */
export function planPage(counts: readonly BucketCount[], page: number, size: number): PagePlan {
  let before = page * size;
  let wanted = size;
  const buckets: string[] = [];
  let skip = 0;
  for (const { bucket, count } of counts) {
    if (wanted <= 0) break;
    if (count <= 0) continue;
    if (buckets.length === 0) {
      if (before >= count) {
        before -= count;
        continue;
      }
      skip = before;
    }
    buckets.push(bucket);
    wanted -= buckets.length === 1 ? count - skip : count;
  }
  return { buckets, skip };
}

/**
 * The bucket holding the match at `position` (from 0, newest first) and the matches before it there,
 * from the buckets' counts, newest first; undefined past the last match.
 */
export function locateMatch(
  counts: readonly BucketCount[],
  position: number,
): { bucket: string; skip: number } | undefined {
  let before = position;
  for (const { bucket, count } of counts) {
    if (before < count) return { bucket, skip: before };
    before -= Math.max(count, 0);
  }
  return undefined;
}
