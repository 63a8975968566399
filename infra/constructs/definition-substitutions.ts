import { LAMBDA_FUNCTIONS, type LambdaFunctionId } from '../../functions/catalog.ts';
import type { ProjectFunction } from './lambda-defaults.ts';

/**
 * The ${Placeholder} values of an ASL definition: each function placeholder (LAMBDA_FUNCTIONS'
 * aslPlaceholder) the definition uses, filled with that function's ARN, and the other values given.
 * Fails if the definition uses a placeholder nothing fills, or a function it needs was not given.
 */
export function definitionSubstitutions(
  file: string,
  definition: string,
  functions: Partial<Record<LambdaFunctionId, ProjectFunction>>,
  values: Record<string, string> = {},
): Record<string, string> {
  const used = new Set([...definition.matchAll(/\$\{(\w+)\}/g)].map((match) => match[1]!));
  const substitutions: Record<string, string> = {};
  for (const [id, entry] of Object.entries(LAMBDA_FUNCTIONS)) {
    if (!('aslPlaceholder' in entry) || !used.has(entry.aslPlaceholder)) continue;
    const fn = functions[id as LambdaFunctionId];
    if (!fn) throw new Error(`${file} needs the ${id} function for \${${entry.aslPlaceholder}}`);
    substitutions[entry.aslPlaceholder] = fn.functionArn;
  }
  for (const [name, value] of Object.entries(values)) if (used.has(name)) substitutions[name] = value;
  const unfilled = [...used].filter((name) => !(name in substitutions));
  if (unfilled.length > 0) throw new Error(`${file} uses unfilled placeholders: ${unfilled.join(', ')}`);
  return substitutions;
}
