/** ocpctl's exit codes, as `--help` and the README list them. */
export const EXIT = {
  /** The call succeeded; a followed task ended SUCCESSFUL. */
  ok: 0,
  /** The task failed, or ended other than SUCCESSFUL. */
  taskFailed: 1,
  /** Bad usage or input: also the API's 400, 404 and 409 answers. */
  badInput: 2,
  /** Refused: the API answered 401 or 403. */
  refused: 3,
  /** The API could not be reached, or answered something unexpected (5xx, not an OCP envelope). */
  unreachable: 4,
} as const;

export const EXIT_CODES_HELP = `Exit codes:
  0  succeeded (a followed task ended SUCCESSFUL)
  1  the task failed (or ended other than SUCCESSFUL)
  2  bad usage or input (also the API's 400, 404 and 409 answers)
  3  refused: no valid token (401) or missing permission (403)
  4  could not reach the API, or it answered something unexpected (5xx)`;

/** A failure that ends the command with its exit code; `message` is printed on stderr. */
export class CliFailure extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    readonly detail?: unknown,
  ) {
    super(message);
  }
}
