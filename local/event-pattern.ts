/**
 * EventBridge event pattern matching, as documented in "Content filtering in Amazon EventBridge event
 * patterns": exact values (OR within an array), nested objects, `prefix`, `suffix`, `equals-ignore-case`,
 * `wildcard`, `anything-but` (value, list, prefix, suffix, equals-ignore-case, wildcard), `numeric`,
 * `exists`, `cidr` (IPv4) and `$or`. An array in the event matches when any of its elements matches.
 */
export function matchesPattern(pattern: object, event: unknown): boolean {
  return matchesObject(pattern as Record<string, unknown>, event);
}

type Leaf = string | number | boolean | null;

function matchesObject(pattern: Record<string, unknown>, value: unknown): boolean {
  const fields = isPlainObject(value) ? value : undefined;
  return Object.entries(pattern).every(([key, expected]) => {
    if (key === '$or') {
      return Array.isArray(expected) && expected.some((branch) => matchesObject(asObject(branch), value));
    }
    const present = fields !== undefined && Object.hasOwn(fields, key);
    const actual = present ? fields[key] : undefined;
    if (Array.isArray(expected)) return matchesLeaf(expected, present, actual);
    if (isPlainObject(expected)) {
      if (Array.isArray(actual)) return actual.some((item) => matchesObject(expected, item));
      return matchesObject(expected, actual);
    }
    throw new Error(`Invalid event pattern: the value of "${key}" must be an array or an object`);
  });
}

function matchesLeaf(conditions: unknown[], present: boolean, actual: unknown): boolean {
  const values: Leaf[] = (present ? (Array.isArray(actual) ? actual : [actual]) : []).filter(isLeaf);
  return conditions.some((condition) => matchesCondition(condition, values));
}

function matchesCondition(condition: unknown, values: Leaf[]): boolean {
  if (isLeaf(condition)) return values.some((value) => equalLeaves(condition, value));
  const [operator, operand] = singleEntry(condition);
  switch (operator) {
    case 'exists':
      return operand === values.length > 0;
    case 'prefix':
      return strings(values).some((value) => matchesAffix(operand, value, 'prefix'));
    case 'suffix':
      return strings(values).some((value) => matchesAffix(operand, value, 'suffix'));
    case 'equals-ignore-case':
      return strings(values).some((value) => value.toLowerCase() === String(operand).toLowerCase());
    case 'wildcard':
      return strings(values).some((value) => wildcardRegExp(String(operand)).test(value));
    case 'numeric':
      return values.some((value) => typeof value === 'number' && matchesNumeric(operand, value));
    case 'anything-but':
      return values.some((value) => !matchesExcluded(operand, value));
    case 'cidr':
      return strings(values).some((value) => inCidr(String(operand), value));
    default:
      throw new Error(`Unsupported event pattern operator "${operator}"`);
  }
}

/** Whether `value` is one of the things an `anything-but` excludes. */
function matchesExcluded(excluded: unknown, value: Leaf): boolean {
  if (Array.isArray(excluded)) return excluded.some((item) => isLeaf(item) && equalLeaves(item, value));
  if (isLeaf(excluded)) return equalLeaves(excluded, value);
  const [operator, operand] = singleEntry(excluded);
  if (typeof value !== 'string') return false;
  const operands = Array.isArray(operand) ? operand.map(String) : [String(operand)];
  switch (operator) {
    case 'prefix':
      return operands.some((item) => value.startsWith(item));
    case 'suffix':
      return operands.some((item) => value.endsWith(item));
    case 'equals-ignore-case':
      return operands.some((item) => item.toLowerCase() === value.toLowerCase());
    case 'wildcard':
      return operands.some((item) => wildcardRegExp(item).test(value));
    default:
      throw new Error(`Unsupported anything-but operator "${operator}"`);
  }
}

function matchesAffix(operand: unknown, value: string, kind: 'prefix' | 'suffix'): boolean {
  let expected = operand;
  let subject = value;
  if (isPlainObject(operand)) {
    expected = String(operand['equals-ignore-case']).toLowerCase();
    subject = value.toLowerCase();
  }
  const affix = String(expected);
  return kind === 'prefix' ? subject.startsWith(affix) : subject.endsWith(affix);
}

function matchesNumeric(operand: unknown, value: number): boolean {
  if (!Array.isArray(operand) || operand.length % 2 !== 0) {
    throw new Error('Invalid numeric pattern: expected [operator, number, ...]');
  }
  for (let index = 0; index < operand.length; index += 2) {
    const operator = operand[index];
    const bound = Number(operand[index + 1]);
    const holds =
      operator === '='
        ? value === bound
        : operator === '<'
          ? value < bound
          : operator === '<='
            ? value <= bound
            : operator === '>'
              ? value > bound
              : operator === '>='
                ? value >= bound
                : undefined;
    if (holds === undefined) throw new Error(`Invalid numeric operator "${String(operator)}"`);
    if (!holds) return false;
  }
  return true;
}

function equalLeaves(expected: Leaf, actual: Leaf): boolean {
  return expected === actual;
}

function wildcardRegExp(wildcard: string): RegExp {
  let source = '';
  for (let index = 0; index < wildcard.length; index += 1) {
    const character = wildcard[index]!;
    if (character === '\\' && index + 1 < wildcard.length) {
      index += 1;
      source += escapeRegExp(wildcard[index]!);
    } else if (character === '*') {
      source += '.*';
    } else {
      source += escapeRegExp(character);
    }
  }
  return new RegExp(`^${source}$`, 's');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function inCidr(cidr: string, address: string): boolean {
  const [network, bitsText] = cidr.split('/');
  const bits = bitsText === undefined ? 32 : Number(bitsText);
  const networkValue = ipv4(network ?? '');
  const addressValue = ipv4(address);
  if (networkValue === undefined || addressValue === undefined || !(bits >= 0 && bits <= 32)) return false;
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return (networkValue & mask) >>> 0 === (addressValue & mask) >>> 0;
}

function ipv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return undefined;
    value = value * 256 + Number(part);
  }
  return value;
}

function singleEntry(condition: unknown): [string, unknown] {
  const entries = isPlainObject(condition) ? Object.entries(condition) : [];
  if (entries.length !== 1) throw new Error(`Invalid event pattern condition ${JSON.stringify(condition)}`);
  return entries[0]!;
}

function strings(values: Leaf[]): string[] {
  return values.filter((value): value is string => typeof value === 'string');
}

function isLeaf(value: unknown): value is Leaf {
  return value === null || ['string', 'number', 'boolean'].includes(typeof value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asObject(value: unknown): Record<string, unknown> {
  if (!isPlainObject(value)) throw new Error('Invalid event pattern: each $or branch must be an object');
  return value;
}
