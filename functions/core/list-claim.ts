/**
 * A claim listing values (the caller's permissions): a JSON array, or one string as API Gateway's JWT
 * authorizer hands array claims to the Lambda, "[a b]". Free of other imports: the console reads it too.
 */
export function parseListClaim(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((item): item is string => typeof item === 'string');
  if (typeof value !== 'string') return [];
  const trimmed = value.trim();
  const inner = trimmed.startsWith('[') && trimmed.endsWith(']') ? trimmed.slice(1, -1) : trimmed;
  return inner.split(/[\s,]+/).filter((item) => item.length > 0);
}
