/** OCP's timestamp shape: ISO 8601 with milliseconds and an explicit offset ("2021-09-03T14:17:06.328+00:00"). */
export function ocpTimestamp(date: Date): string {
  return date.toISOString().replace('Z', '+00:00');
}

/** The UTC month ("2026-12") of a timestamp with any offset; RangeError for one that is not a time. */
export function utcMonth(timestamp: string): string {
  const date = new Date(timestamp);
  if (Number.isNaN(date.getTime())) throw new RangeError(`Not a timestamp: ${timestamp}`);
  return `${String(date.getUTCFullYear()).padStart(4, '0')}-${String(date.getUTCMonth() + 1).padStart(2, '0')}`;
}
