/**
 * SSM document allowedPatterns, evaluated as the SSM Agent evaluates them on the host: Go's `regexp`
 * (RE2 syntax: no lookaround, no backreferences; `$` is the end of the text), a match anywhere in
 * the value (Go's MatchString). re2js is a port of RE2 that refuses what Go refuses, with Go's message.
 */
import { RE2JS, RE2JSSyntaxException } from 're2js';

/** The pattern is not RE2 syntax; the message is Go's (`error parsing regexp: …`). */
export class AllowedPatternSyntaxError extends Error {
  override readonly name = 'AllowedPatternSyntaxError';
}

const compiled = new Map<string, RE2JS>();

function compile(pattern: string): RE2JS {
  let regex = compiled.get(pattern);
  if (regex === undefined) {
    try {
      regex = RE2JS.compile(pattern);
    } catch (error) {
      if (error instanceof RE2JSSyntaxException) throw new AllowedPatternSyntaxError(error.message);
      throw error;
    }
    compiled.set(pattern, regex);
  }
  return regex;
}

/** Throws AllowedPatternSyntaxError when the agent could not compile `pattern`. */
export function checkAllowedPattern(pattern: string): void {
  compile(pattern);
}

/** True when the agent accepts `value` for `pattern`; throws AllowedPatternSyntaxError when it cannot compile it. */
export function matchesAllowedPattern(pattern: string, value: string): boolean {
  return compile(pattern).test(value);
}
