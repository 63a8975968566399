import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { wholeValueMatcher } from '#local/java-pattern';
import { AwsError } from '#local/local-service';

/** A reference from a structure member, list, or map to the shape of its value. */
export interface ShapeRef {
  shape: string;
}

/** One input shape of botocore's model, reduced to what a request is checked against. */
export interface Shape {
  type:
    | 'structure'
    | 'list'
    | 'map'
    | 'string'
    | 'integer'
    | 'long'
    | 'float'
    | 'double'
    | 'boolean'
    | 'timestamp'
    | 'blob';
  members?: Record<string, ShapeRef>;
  required?: string[];
  member?: ShapeRef;
  key?: ShapeRef;
  value?: ShapeRef;
  /** Length for strings, lists and maps; value for numbers. */
  min?: number;
  max?: number;
  enum?: string[];
  sensitive?: boolean;
  /** The Java pattern as modelled (and as AWS quotes it), its JavaScript translation, or why there is none. */
  pattern?: string;
  jsPattern?: { source: string; flags: string };
  patternUnsupported?: string;
}

/** The modelled operations of one service: operation name → its input shape. */
export interface ServiceModel {
  botocoreName: string;
  apiVersion: string;
  jsonVersion: string;
  awsQueryCompatible?: boolean;
  operations: Record<string, string>;
  /** The SDK waiters the sources use (`waitUntil<Name>`) → the operation each polls. */
  waiters?: Record<string, string>;
  shapes: Record<string, Shape>;
}

/** local/api-models.json, written by scripts/generate-api-models.ts: services by X-Amz-Target prefix. */
export interface ApiModels {
  botocoreVersion: string;
  services: Record<string, ServiceModel>;
}

export const API_MODELS: ApiModels = JSON.parse(readFileSync(join(__dirname, 'api-models.json'), 'utf8'));

/**
 * The error each Coral-based JSON service returns for a request that breaks its model's constraints
 * (checked against recorded AWS responses): CloudWatch Logs' is InvalidParameterException.
 */
const CONSTRAINT_ERROR: Record<string, string> = {
  AWSStepFunctions: 'ValidationException',
  AmazonSSM: 'ValidationException',
  AWSEvents: 'ValidationException',
  Logs_20140328: 'InvalidParameterException',
};

interface Violation {
  /** Coral's path: members with a lower-case initial, list items as `<list>.<n>.member`. */
  path: string;
  /** The member as sent on the wire (SQS names it so). */
  member: string;
  value: unknown;
  shape: Shape;
  constraint: string;
  kind: 'required' | 'enum' | 'other';
}

/**
 * Checks a request against the operation's input shape in botocore's model, as the service does before
 * it acts, and throws the error AWS returns: `N validation error(s) detected: …` with every violation
 * under the service's constraint error (SQS, a former Query service, answers as it did there).
 */
export function validateRequest(prefix: string, operation: string, input: unknown): void {
  if (!Object.hasOwn(API_MODELS.services, prefix)) return;
  const service = API_MODELS.services[prefix]!;
  const inputShape = Object.hasOwn(service.operations, operation) ? service.operations[operation] : undefined;
  if (!inputShape) {
    throw new AwsError(
      'UnknownOperationException',
      `Local mode has no API model of ${prefix}.${operation}: call it from the sources, then run npm run generate:api-models`,
    );
  }
  const violations: Violation[] = [];
  check(service, inputShape, input ?? {}, '', '', violations);
  if (violations.length === 0) return;
  if (service.awsQueryCompatible) throw queryError(violations[0]!);
  const count = violations.length === 1 ? '1 validation error' : `${violations.length} validation errors`;
  throw new AwsError(
    CONSTRAINT_ERROR[prefix] ?? 'ValidationException',
    `${count} detected: ${violations.map(describe).join('; ')}`,
  );
}

function check(
  service: ServiceModel,
  shapeName: string,
  value: unknown,
  path: string,
  member: string,
  violations: Violation[],
): void {
  const shape = service.shapes[shapeName]!;
  checkType(shape, value, path);
  const violate = (constraint: string, kind: Violation['kind'] = 'other') =>
    violations.push({ path, member, value, shape, constraint, kind });
  for (const constraint of constraintsBroken(shape, value)) {
    violate(constraint, constraint.startsWith('Member must satisfy enum') ? 'enum' : 'other');
  }

  if (shape.type === 'structure') {
    const object = value as Record<string, unknown>;
    for (const [name, ref] of Object.entries(shape.members ?? {})) {
      const memberPath = path ? `${path}.${coralName(name)}` : coralName(name);
      const memberValue = object[name];
      if (memberValue === undefined || memberValue === null) {
        if (shape.required?.includes(name)) {
          violations.push({
            path: memberPath,
            member: name,
            value: null,
            shape: service.shapes[ref.shape]!,
            constraint: 'Member must not be null',
            kind: 'required',
          });
        }
        continue;
      }
      check(service, ref.shape, memberValue, memberPath, name, violations);
    }
  } else if (shape.type === 'list') {
    (value as unknown[]).forEach((item, index) => {
      if (item !== null)
        check(service, shape.member!.shape, item, `${path}.${index + 1}.member`, member, violations);
    });
  } else if (shape.type === 'map') {
    const keyShape = service.shapes[shape.key!.shape]!;
    const valueShape = service.shapes[shape.value!.shape]!;
    for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
      const keyBroken = constraintsBroken(keyShape, key);
      if (keyBroken.length > 0) violate(`Map keys must satisfy constraint: [${keyBroken.join(', ')}]`);
      if (item === null) continue;
      if (valueShape.type === 'structure' || valueShape.type === 'list' || valueShape.type === 'map') {
        check(service, shape.value!.shape, item, `${path}.${key}`, member, violations);
      } else {
        checkType(valueShape, item, `${path}.${key}`);
        const valueBroken = constraintsBroken(valueShape, item);
        if (valueBroken.length > 0) violate(`Map value must satisfy constraint: [${valueBroken.join(', ')}]`);
      }
    }
  }
}

/** A value of the wrong JSON type is refused while the request is read, before any constraint. */
function checkType(shape: Shape, value: unknown, path: string): void {
  const ok = (() => {
    switch (shape.type) {
      case 'structure':
      case 'map':
        return typeof value === 'object' && value !== null && !Array.isArray(value);
      case 'list':
        return Array.isArray(value);
      case 'string':
      case 'blob':
        return typeof value === 'string';
      case 'boolean':
        return typeof value === 'boolean';
      case 'integer':
      case 'long':
        return Number.isInteger(value);
      case 'float':
      case 'double':
      case 'timestamp':
        return typeof value === 'number';
    }
  })();
  if (!ok) {
    throw new AwsError(
      'SerializationException',
      `Expected ${/^[aeiou]/.test(shape.type) ? 'an' : 'a'} ${shape.type} at '${path || 'input'}'`,
    );
  }
}

/** The constraints of a scalar, list or map that the value breaks, in Coral's words. */
function constraintsBroken(shape: Shape, value: unknown): string[] {
  const broken: string[] = [];
  if (shape.type === 'string') {
    const text = value as string;
    if (shape.enum && !shape.enum.includes(text)) {
      broken.push(`Member must satisfy enum value set: [${shape.enum.join(', ')}]`);
    }
    if (shape.jsPattern && !matcher(shape.jsPattern).test(text)) {
      broken.push(`Member must satisfy regular expression pattern: ${shape.pattern}`);
    }
  }
  const length =
    shape.type === 'string' || shape.type === 'list'
      ? (value as string | unknown[]).length
      : shape.type === 'map'
        ? Object.keys(value as object).length
        : undefined;
  const noun = length === undefined ? 'value' : 'length';
  const measured = length ?? (typeof value === 'number' && shape.type !== 'timestamp' ? value : undefined);
  if (measured !== undefined && shape.type !== 'blob') {
    if (shape.max !== undefined && measured > shape.max) {
      broken.push(`Member must have ${noun} less than or equal to ${shape.max}`);
    }
    if (shape.min !== undefined && measured < shape.min) {
      broken.push(`Member must have ${noun} greater than or equal to ${shape.min}`);
    }
  }
  return broken;
}

const matchers = new Map<string, RegExp>();

function matcher(pattern: { source: string; flags: string }): RegExp {
  const key = `${pattern.flags}/${pattern.source}`;
  let compiled = matchers.get(key);
  if (!compiled) {
    compiled = wholeValueMatcher(pattern);
    matchers.set(key, compiled);
  }
  return compiled;
}

function describe(violation: Violation): string {
  const shown =
    violation.value === null ? ' null' : violation.shape.sensitive ? '' : ` '${render(violation.value)}'`;
  return `Value${shown} at '${violation.path}' failed to satisfy constraint: ${violation.constraint}`;
}

/** Roughly Java's toString of the value, as Coral quotes it: lists `[a, b]`, objects `{k=v}`. */
function render(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(render).join(', ')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.entries(value)
      .map(([key, item]) => `${coralName(key)}=${render(item)}`)
      .join(', ')}}`;
  }
  return String(value);
}

/** SQS answers a Query-era error: the first problem, named by its wire parameter. */
function queryError(violation: Violation): AwsError {
  switch (violation.kind) {
    case 'required':
      return new AwsError('MissingParameter', `The request must contain the parameter ${violation.member}.`);
    case 'enum':
      // SQS's modelled enums are attribute names.
      return new AwsError('InvalidAttributeName', `Unknown Attribute ${render(violation.value)}.`);
    default:
      return new AwsError(
        'InvalidParameterValue',
        `Value ${render(violation.value)} for parameter ${violation.member} is invalid. Reason: ${violation.constraint}.`,
      );
  }
}

/** Coral names members in messages with a lower-case initial (`Comment` → `comment`). */
function coralName(member: string): string {
  return member.charAt(0).toLowerCase() + member.slice(1);
}
