import { describe, expect, it } from 'vitest';
import { API_MODELS } from '#local/api-validation';
import { translateJavaPattern, wholeValueMatcher } from '#local/java-pattern';

function matches(pattern: string, value: string): boolean {
  const translation = translateJavaPattern(pattern);
  if ('unsupported' in translation) throw new Error(`${pattern}: ${translation.unsupported}`);
  return wholeValueMatcher(translation).test(value);
}

function reasonRefused(pattern: string): string {
  const translation = translateJavaPattern(pattern);
  if (!('unsupported' in translation)) throw new Error(`${pattern} was translated`);
  return translation.unsupported;
}

describe('Java patterns in JavaScript', () => {
  it('matches the whole value, as AWS does (CloudWatch Logs refuses a colon in a stream name)', () => {
    expect(matches('[^:*]*', 'command/instance/step/stdout')).toBe(true);
    expect(matches('[^:*]*', 'a:b')).toBe(false);
  });

  it('keeps alternatives anchored together', () => {
    const instanceId = '(^i-(\\w{8}|\\w{17})$)|(^mi-\\w{17}$)';
    expect(matches(instanceId, 'i-0123456789abcdef0')).toBe(true);
    expect(matches(instanceId, 'mi-0000000000000000a')).toBe(true);
    expect(matches(instanceId, 'i-083e1601960282cd')).toBe(false);
  });

  it("reads \\s as Java's ASCII whitespace, not JavaScript's Unicode whitespace", () => {
    expect(matches('\\s+', ' \t\n\u000B\f\r')).toBe(true);
    expect(matches('\\s', '\u00A0')).toBe(false);
    expect(matches('[\\s]', '\u2003')).toBe(false);
    expect(matches('\\S+', 'a\u00A0b')).toBe(true);
    expect(matches('[\\s\\S]*\\S[\\s\\S]*', ' \u00A0 ')).toBe(true);
    expect(matches('[\\s\\S]*\\S[\\s\\S]*', ' \t ')).toBe(false);
  });

  it('reads a - beside a class escape as a literal, as Java does', () => {
    expect(matches('[\\w-_]*', 'a-b_c')).toBe(true);
    expect(matches('[\\w-_]*', 'a.b')).toBe(false);
  });

  it('stops . at every Java line terminator, including U+0085', () => {
    expect(matches('.+', 'abc')).toBe(true);
    expect(matches('.', '\u0085')).toBe(false);
    expect(matches('(?s).', '\n')).toBe(true);
  });

  it('reads POSIX classes as US-ASCII and Unicode categories as Unicode', () => {
    expect(matches('\\p{ASCII}*', 'plain text ~')).toBe(true);
    expect(matches('\\p{ASCII}*', 'café')).toBe(false);
    expect(matches('\\p{Alpha}+', 'é')).toBe(false);
    expect(matches('[\\P{Alpha}]+', 'é1')).toBe(true);
    expect(matches('[\\p{L}\\p{Z}\\p{N}_.:/=\\-@]*', 'Environment: prod-é 1')).toBe(true);
    expect(matches('[\\p{L}\\p{Z}\\p{N}_.:/=\\-@]*', 'a*b')).toBe(false);
    expect(matches('\\p{IsLatin}+', 'abc')).toBe(true);
  });

  it('applies a leading (?i) to the whole pattern', () => {
    expect(matches('(?i)all|[0-9]{12}', 'ALL')).toBe(true);
    expect(matches('(?i)all|[0-9]{12}', '123456789012')).toBe(true);
    expect(matches('(?i)all|[0-9]{12}', 'none')).toBe(false);
  });

  it('quotes \\Q…\\E, spells octal and \\x{…} escapes, and drops escapes JavaScript forbids under u', () => {
    expect(matches('\\Q.*\\E', '.*')).toBe(true);
    expect(matches('\\Q.*\\E', 'ab')).toBe(false);
    expect(matches('\\0101\\x{42}', 'AB')).toBe(true);
    expect(matches('[\\-_]\\_\\@', '-_@')).toBe(true);
    expect(matches('a{2}{', 'aa{')).toBe(true);
  });

  it('refuses what JavaScript cannot express, with the reason', () => {
    expect(reasonRefused('a*+b')).toMatch(/possessive/);
    expect(reasonRefused('(?>ab)c')).toMatch(/atomic/);
    expect(reasonRefused('a(?i)b')).toMatch(/inline flags/);
    expect(reasonRefused('[a-z&&[^e]]')).toMatch(/intersections|unions/);
    expect(reasonRefused('\\p{InGreek}')).toMatch(/no JavaScript equivalent/);
    expect(reasonRefused('\\bword')).toMatch(/\\b/);
    expect(reasonRefused('(unclosed')).toMatch(/.+/);
  });

  it('translates every pattern of the operations local mode checks, or records why not', () => {
    const patterns = Object.values(API_MODELS.services).flatMap((service) =>
      Object.values(service.shapes).filter((shape) => shape.pattern !== undefined),
    );

    expect(patterns.length).toBeGreaterThan(10);
    for (const shape of patterns) {
      expect(shape.jsPattern ?? shape.patternUnsupported, shape.pattern).toBeDefined();
      if (shape.jsPattern) expect(translateJavaPattern(shape.pattern!)).toEqual(shape.jsPattern);
    }
  });
});
