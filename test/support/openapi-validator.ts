import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import document from '../../openapi.json' with { type: 'json' };

/** The committed OpenAPI document's operations, as ajv validators of their answers. */
// strictRequired would refuse `oneOf: [{ required: ['hostIds'] }, …]`, whose properties are declared beside it.
const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false });
const DOCUMENT_KEY = 'openapi.json';
// The document's own fields, which are no JSON Schema keywords: its schemas are read by JSON pointer.
ajv.addVocabulary(['openapi', 'info', 'jsonSchemaDialect', 'servers', 'paths', 'webhooks', 'components']);
ajv.addVocabulary(['security', 'tags', 'externalDocs']);
ajv.addSchema(document, DOCUMENT_KEY);

type Paths = Record<string, Record<string, { responses: Record<string, unknown> }>>;
const paths = document.paths as unknown as Paths;

/** Path templates, literal ones first, so `/compute/hosts/batchRestartAgents` is not read as a host id. */
const templates = Object.keys(paths)
  .map((template) => ({
    template,
    pattern: new RegExp(`^${template.replace(/\{\w+\}/g, '[^/]+')}$`),
    parameters: (template.match(/\{/g) ?? []).length,
  }))
  .sort((a, b) => a.parameters - b.parameters);

const pointer = (...parts: string[]) =>
  parts.map((part) => part.replaceAll('~', '~0').replaceAll('/', '~1')).join('/');

const validators = new Map<string, ValidateFunction>();

/** A validator of a schema of the document, by its JSON pointer (`/components/schemas/OcpTask`). */
export function documentSchema(jsonPointer: string): ValidateFunction {
  let validate = validators.get(jsonPointer);
  if (!validate) {
    validate = ajv.compile({ $ref: `${DOCUMENT_KEY}#${jsonPointer}` });
    validators.set(jsonPointer, validate);
  }
  return validate;
}

/**
 * What is wrong with an answer by the document's operation for its method and path (a path may hold a
 * query string), or undefined when the document describes it.
 */
export function undocumentedAnswer(method: string, path: string, status: number, body: unknown) {
  const rawPath = path.split('?')[0]!;
  const found = templates.find(({ pattern }) => pattern.test(rawPath));
  const operation = found && paths[found.template]?.[method.toLowerCase()];
  if (!found || !operation) return `openapi.json has no operation for ${method} ${rawPath}`;
  if (!(String(status) in operation.responses))
    return `openapi.json documents no ${status} answer of ${method} ${found.template} (it documents ${Object.keys(operation.responses).join(', ')})`;
  const validate = documentSchema(
    `/${pointer('paths', found.template, method.toLowerCase(), 'responses', String(status), 'content', 'application/json', 'schema')}`,
  );
  if (validate(body)) return undefined;
  const shown = JSON.stringify(body);
  return `the ${status} answer of ${method} ${path} does not match openapi.json (${found.template}): ${ajv.errorsText(validate.errors, { dataVar: 'body' })}\nbody: ${shown.length > 2000 ? `${shown.slice(0, 2000)}…` : shown}`;
}

/** Throws when the document does not describe the answer (see undocumentedAnswer). */
export function assertDocumentedAnswer(method: string, path: string, status: number, body: unknown): void {
  const problem = undocumentedAnswer(method, path, status, body);
  if (problem) throw new Error(`Undocumented API answer: ${problem}`);
}
