import { describe, expect, it } from 'vitest';
import { AllowedPatternSyntaxError, checkAllowedPattern, matchesAllowedPattern } from '#core/allowed-pattern';

describe('matchesAllowedPattern', () => {
  it('finds the pattern anywhere in the value, as Go’s MatchString does', () => {
    expect(matchesAllowedPattern('b', 'abc')).toBe(true);
    expect(matchesAllowedPattern('^b', 'abc')).toBe(false);
  });

  it('reads $ as the very end of the value, never before a final line break', () => {
    expect(matchesAllowedPattern('^a$', 'a')).toBe(true);
    expect(matchesAllowedPattern('^a$', 'a\n')).toBe(false);
    expect(matchesAllowedPattern('^a\\z', 'a\n')).toBe(false);
  });

  it.each([
    ['^/(?!.*\\.\\.).+$', 'error parsing regexp: invalid or unsupported Perl syntax: `(?!`'],
    ['^(?=a)', 'error parsing regexp: invalid or unsupported Perl syntax: `(?=`'],
    ['(a)\\1', 'error parsing regexp: invalid escape sequence: `\\1`'],
    ['a\\Z', 'error parsing regexp: invalid escape sequence: `\\Z`'],
  ])('refuses %j, which RE2 cannot compile, with Go’s message', (pattern, message) => {
    expect(() => matchesAllowedPattern(pattern, 'a')).toThrow(AllowedPatternSyntaxError);
    expect(() => checkAllowedPattern(pattern)).toThrow(message);
  });

  it('refuses lookbehind, which re2js supports only when asked to', () => {
    expect(() => checkAllowedPattern('(?<=a)b')).toThrow(AllowedPatternSyntaxError);
  });
});
