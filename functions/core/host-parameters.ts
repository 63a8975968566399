/**
 * Patterns for every value that travels to a host's shell. The SSM documents declare them as
 * allowedPattern and the handlers check them before sending, so a crafted value never reaches a host.
 */
export const HOST_PARAMETER_PATTERNS = {
  /**
   * An absolute path of plain segments: no quotes, spaces, "..", or shell metacharacters. Ends with
   * `(?![\s\S])` rather than `$`, which in SSM's Java regex also matches before a final line break.
   */
  agentHome: '^/(?!.*\\.\\.)[A-Za-z0-9_./-]{1,200}(?![\\s\\S])',
  /** The agent's control script, relative to agentHome: plain segments, no "..". */
  controlScript: '^(?!.*\\.\\.)[A-Za-z0-9_][A-Za-z0-9_./-]{0,127}(?![\\s\\S])',
  /** SSM instance (i-) or managed-instance (mi-) id. */
  instanceId: '^(i|mi)-[0-9a-f]{8,17}$',
} as const;

/** Default install directory of the OCP agent on a host. */
export const DEFAULT_AGENT_HOME = '/home/admin/ocp_agent';
/** Default control script of the OCP agent, relative to its install directory. */
export const DEFAULT_CONTROL_SCRIPT = 'bin/ocp_agentctl';

export type HostParameter = keyof typeof HOST_PARAMETER_PATTERNS;

export function isValidHostParameter(name: HostParameter, value: string): boolean {
  return new RegExp(HOST_PARAMETER_PATTERNS[name]).test(value);
}
