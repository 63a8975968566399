import { describe, expect, it } from 'vitest';
import { InvalidArgument } from '#core/errors';
import { asSafeNumber, parseLongId } from '#core/ids';

describe('parseLongId', () => {
  it.each(['1', '2', '100', '9007199254740993', '9223372036854775807'])('accepts %s', (raw) => {
    expect(parseLongId(raw, 'hostId')).toBe(BigInt(raw));
  });

  it.each([
    '0',
    '-1',
    '1.5',
    '1e3',
    'abc',
    '9223372036854775808',
    '99999999999999999999',
    '',
    ' 1',
    '1 ',
    '+1',
    '01',
    '0x10',
    '١',
    '1;rm -rf /',
  ])('refuses %j with an InvalidArgument naming the field', (raw) => {
    expect(() => parseLongId(raw, 'hostId')).toThrow(InvalidArgument);
    expect(() => parseLongId(raw, 'hostId')).toThrow(/hostId must be a positive 64-bit integer/);
  });

  it('refuses a missing value', () => {
    expect(() => parseLongId(undefined, 'hostId')).toThrow(/got nothing/);
  });

  it('keeps only ids that fit a JavaScript number as record keys', () => {
    expect(asSafeNumber(9007199254740991n)).toBe(9007199254740991);
    expect(asSafeNumber(9007199254740992n)).toBeUndefined();
  });
});
