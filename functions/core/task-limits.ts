/**
 * The longest texts a stored task holds, beside MAX_REASON_LENGTH (scheduled-restart.ts): a listing's
 * page of tasks at their largest must fit one Lambda response (MAX_PAGE_SIZE, task-list-query.ts).
 */

/** Longest `error` of a subtask: the reason for an operator; the whole output is in the subtask's log. */
export const MAX_SUBTASK_ERROR_LENGTH = 1000;
/** Longest username of a caller (Cognito's own limit), so of a task's creator. */
export const MAX_USERNAME_LENGTH = 128;

const ELLIPSIS = ' … ';
/** Of a cut error, the share kept from its start (the reason); the rest is kept from its end (the output's tail). */
const KEPT_HEAD_SHARE = 0.6;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * An error as a subtask stores it: control characters (from a script's output) as spaces, and at most
 * `maxLength` (MAX_SUBTASK_ERROR_LENGTH) characters, its middle cut.
 */
export function boundedError(text: string, maxLength = MAX_SUBTASK_ERROR_LENGTH): string {
  const head = Math.round(maxLength * KEPT_HEAD_SHARE);
  const cut =
    text.length <= maxLength
      ? text
      : `${text.slice(0, head)}${ELLIPSIS}${text.slice(text.length - (maxLength - head - ELLIPSIS.length))}`;
  return cut.replace(/\p{Cc}/gu, ' ').replace(LONE_SURROGATE, '\uFFFD');
}
