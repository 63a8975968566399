/** OCP's timestamp shape: ISO 8601 with milliseconds and an explicit offset ("2021-09-03T14:17:06.328+00:00"). */
export function ocpTimestamp(date: Date): string {
  return date.toISOString().replace('Z', '+00:00');
}
