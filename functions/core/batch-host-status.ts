/**
 * Where a host of a batch stands, in the order its counts are shown (outcomes first). Free of other
 * imports: the CLI and the console count a batch's hosts with it.
 */
export const BATCH_HOST_STATUSES = [
  'SUCCESSFUL',
  'FAILED',
  'RUNNING',
  'PENDING',
  'NOT_STARTED',
  'CANCELED',
] as const;

export type BatchHostStatus = (typeof BATCH_HOST_STATUSES)[number];

/** How many of the hosts have each status. */
export function countHostStatuses(
  hosts: readonly { status: BatchHostStatus }[],
): Record<BatchHostStatus, number> {
  const counts = Object.fromEntries(BATCH_HOST_STATUSES.map((status) => [status, 0])) as Record<
    BatchHostStatus,
    number
  >;
  for (const host of hosts) counts[host.status] += 1;
  return counts;
}
