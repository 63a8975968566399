/** The name of an SDK error (the service's error code, e.g. ExecutionDoesNotExist); '' for anything else. */
export function errorName(error: unknown): string {
  return error instanceof Error ? error.name : '';
}
