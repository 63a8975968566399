import { InvalidArgument } from '#core/errors';
import type { Schema } from '#core/schema';

/** Parses an optional JSON body against a schema; an absent body is `{}`. */
export function parseJsonBody<T>(
  body: string | undefined,
  isBase64Encoded: boolean | undefined,
  schema: Schema<T>,
): T {
  const text = body && isBase64Encoded ? Buffer.from(body, 'base64').toString('utf8') : (body ?? '');
  let value: unknown = {};
  if (text.trim() !== '') {
    try {
      value = JSON.parse(text);
    } catch {
      throw new InvalidArgument('The request body is not valid JSON.');
    }
  }
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    const field = issue?.path.join('.') || 'body';
    throw new InvalidArgument(`Invalid request body: ${field}: ${issue?.message ?? 'invalid'}.`, field);
  }
  return result.data;
}
