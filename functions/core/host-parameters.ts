/**
 * Patterns for every value that travels to a host's shell. The SSM documents declare them as
 * allowedPattern and the handlers check them before sending, so a crafted value never reaches a host.
 *
 * They must mean the same to every engine that checks them: the SSM Agent's Go `regexp` (RE2, no
 * lookaround) on the host and SSM's own check at SendCommand. So: a path is a run of `/segment`s
 * whose dots cannot form `.` or `..` (a segment is plain characters with single dots between them),
 * and each pattern ends with `\z`, the very end of the value in RE2 and in Java alike (`$` in Java
 * also matches before a final line break). Lengths are bounded by HOST_PARAMETER_MAX_LENGTH.
 */
export const HOST_PARAMETER_PATTERNS = {
  /** An absolute path of plain segments (letters, digits, `_`, `-`, single dots): no `.`, `..` or empty segment. */
  agentHome: '^(?:/\\.?[A-Za-z0-9_-]+(?:\\.[A-Za-z0-9_-]+)*\\.?)+\\z',
  /** The agent's control script, relative to agentHome: plain segments, the first starting with a letter, digit or `_`. */
  controlScript:
    '^[A-Za-z0-9_][A-Za-z0-9_-]*(?:\\.[A-Za-z0-9_-]+)*\\.?(?:/\\.?[A-Za-z0-9_-]+(?:\\.[A-Za-z0-9_-]+)*\\.?)*\\z',
  /** EC2 instance (i-, 8 or 17 hex digits) or managed-instance (mi-, 17) id, the shapes SSM's API accepts. */
  instanceId: '^(?:i-[0-9a-f]{8}(?:[0-9a-f]{9})?|mi-[0-9a-f]{17})\\z',
} as const;

export type HostParameter = keyof typeof HOST_PARAMETER_PATTERNS;

/**
 * Longest accepted value of each parameter (the documents declare it as maxChars). It also keeps
 * java.util.regex, which recurses once per segment and dot, far from its stack limit (~1,000).
 */
export const HOST_PARAMETER_MAX_LENGTH: Record<HostParameter, number> = {
  agentHome: 201,
  controlScript: 128,
  instanceId: 20,
};

/** Default install directory of the OCP agent on a host. */
export const DEFAULT_AGENT_HOME = '/home/admin/ocp_agent';
/** Default control script of the OCP agent, relative to its install directory. */
export const DEFAULT_CONTROL_SCRIPT = 'bin/ocp_agentctl';

/**
 * A pattern above as a JavaScript RegExp: `\z` is not JavaScript, and its `$` without the m flag is
 * the same very end. The patterns use only what RE2 and JavaScript read alike (ASCII classes,
 * non-capturing groups, counted repeats); test/core/host-parameters.test.ts holds the two engines
 * equal on every case and on generated values, so the functions need no RE2 port of their own.
 */
export function asJavaScriptRegExp(pattern: string): RegExp {
  if (!pattern.startsWith('^') || !pattern.endsWith('\\z') || pattern.indexOf('\\z') !== pattern.length - 2)
    throw new Error(`Not a host parameter pattern (^… ending in one \\z): ${pattern}`);
  return new RegExp(`${pattern.slice(0, -2)}$`);
}

const HOST_PARAMETER_REGEXPS = Object.fromEntries(
  Object.entries(HOST_PARAMETER_PATTERNS).map(([name, pattern]) => [name, asJavaScriptRegExp(pattern)]),
) as Record<HostParameter, RegExp>;

/** True when the SSM Agent would accept `value` for the parameter `name` and it is not over-long. */
export function isValidHostParameter(name: HostParameter, value: string): boolean {
  return value.length <= HOST_PARAMETER_MAX_LENGTH[name] && HOST_PARAMETER_REGEXPS[name].test(value);
}
