import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type BucketCount, locateMatch, planPage } from '#core/task-page';
import { utcMonth } from '#core/time';

describe('utcMonth', () => {
  it.each([
    ['2026-12-01T23:37:40.123+00:00', '2026-12'],
    ['2026-12-31T23:59:59.999+00:00', '2026-12'],
    ['2027-01-01T00:00:00.000+00:00', '2027-01'],
    // The UTC month, whatever the offset the timestamp is written with.
    ['2027-01-01T01:30:00.000+08:00', '2026-12'],
    ['2026-12-31T20:00:00.000-05:00', '2027-01'],
  ])('puts %s in %s', (timestamp, month) => {
    expect(utcMonth(timestamp)).toBe(month);
  });

  it('refuses a value that is not a time', () => {
    expect(() => utcMonth('yesterday')).toThrow(RangeError);
  });
});

const counts = (...entries: [string, number][]): BucketCount[] =>
  entries.map(([bucket, count]) => ({ bucket, count }));

describe('planPage', () => {
  const months = counts(['2026-12', 30], ['2026-11', 0], ['2026-10', 25], ['2026-09', 40]);

  it('reads only the newest bucket for a first page it fills', () => {
    expect(planPage(months, 0, 20)).toEqual({ buckets: ['2026-12'], skip: 0 });
  });

  it('passes over whole buckets before a deep page and skips within the first it reads', () => {
    // Tasks 60..79: 30 in 2026-12, 25 in 2026-10, so the page starts at the 6th of 2026-09.
    expect(planPage(months, 3, 20)).toEqual({ buckets: ['2026-09'], skip: 5 });
  });

  it('reads every bucket a page spans, leaving out empty ones', () => {
    expect(planPage(months, 1, 20)).toEqual({ buckets: ['2026-12', '2026-10'], skip: 20 });
    expect(planPage(months, 0, 60)).toEqual({ buckets: ['2026-12', '2026-10', '2026-09'], skip: 0 });
  });

  it('starts at a bucket boundary without skipping', () => {
    expect(planPage(months, 1, 30)).toEqual({ buckets: ['2026-10', '2026-09'], skip: 0 });
  });

  it('reads nothing for a page past the end or an empty table', () => {
    expect(planPage(months, 5, 20)).toEqual({ buckets: [], skip: 0 });
    expect(planPage([], 0, 10)).toEqual({ buckets: [], skip: 0 });
  });

  it('agrees with slicing the whole listing, for any counts, page and size', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat({ max: 12 }), { maxLength: 8 }),
        fc.nat({ max: 20 }),
        fc.integer({ min: 1, max: 15 }),
        (sizes, page, size) => {
          const buckets = counts(...sizes.map((count, i): [string, number] => [`b${i}`, count]));
          // Every task as (bucket, position in its bucket), newest first.
          const listing = buckets.flatMap(({ bucket, count }) =>
            Array.from({ length: count }, (_, position) => ({ bucket, position })),
          );
          const slice = listing.slice(page * size, page * size + size);
          expect(planPage(buckets, page, size)).toEqual({
            buckets: [...new Set(slice.map((task) => task.bucket))],
            skip: slice[0]?.position ?? 0,
          });
        },
      ),
    );
  });
});

describe('locateMatch', () => {
  const blocks = counts(['7', 3], ['6', 0], ['5', 4]);

  it('finds the bucket holding a position and the matches before it there', () => {
    expect(locateMatch(blocks, 0)).toEqual({ bucket: '7', skip: 0 });
    expect(locateMatch(blocks, 2)).toEqual({ bucket: '7', skip: 2 });
    expect(locateMatch(blocks, 3)).toEqual({ bucket: '5', skip: 0 });
    expect(locateMatch(blocks, 6)).toEqual({ bucket: '5', skip: 3 });
  });

  it('finds nothing past the last match', () => {
    expect(locateMatch(blocks, 7)).toBeUndefined();
    expect(locateMatch([], 0)).toBeUndefined();
  });

  it('agrees with indexing the whole listing, for any counts and position', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -1, max: 6 }), { maxLength: 8 }),
        fc.nat({ max: 40 }),
        (sizes, position) => {
          const buckets = counts(...sizes.map((count, i): [string, number] => [`b${i}`, count]));
          const listing = buckets.flatMap(({ bucket, count }) =>
            Array.from({ length: Math.max(count, 0) }, (_, skip) => ({ bucket, skip })),
          );
          expect(locateMatch(buckets, position)).toEqual(listing[position]);
        },
      ),
    );
  });
});
