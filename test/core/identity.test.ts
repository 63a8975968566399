import { describe, expect, it } from 'vitest';
import { NotAuthenticated, PermissionDenied } from '#core/errors';
import { callerFromClaims, parseListClaim, requirePermission } from '#core/identity';
import { MAX_USERNAME_LENGTH } from '#core/task-limits';

describe('callerFromClaims', () => {
  it('reads the API Gateway form of an array claim, "[a b]"', () => {
    const caller = callerFromClaims(
      { sub: 'u1', 'cognito:groups': '[HOST_MANAGER TASK_VIEWER]' },
      'cognito:groups',
    );
    expect([...caller.permissions]).toEqual(['HOST_MANAGER', 'TASK_VIEWER']);
  });

  it('reads a real array claim', () => {
    const caller = callerFromClaims({ username: 'alice', perms: ['HOST_MANAGER'] }, 'perms');
    expect(caller).toMatchObject({ username: 'alice' });
    expect(caller.permissions.has('HOST_MANAGER')).toBe(true);
  });

  it('prefers the Cognito username over the subject', () => {
    expect(callerFromClaims({ sub: 'abc', 'cognito:username': 'bob' }, 'x').username).toBe('bob');
  });

  it('refuses a request without claims', () => {
    expect(() => callerFromClaims(undefined, 'cognito:groups')).toThrow(NotAuthenticated);
  });

  it('refuses claims without a user', () => {
    expect(() => callerFromClaims({ 'cognito:groups': '[HOST_MANAGER]' }, 'cognito:groups')).toThrow(
      NotAuthenticated,
    );
  });

  it('refuses a username longer than a task may record as its creator', () => {
    const claims = (username: string) => ({
      'cognito:username': username,
      'cognito:groups': '[HOST_MANAGER]',
    });
    expect(callerFromClaims(claims('u'.repeat(MAX_USERNAME_LENGTH)), 'cognito:groups').username).toHaveLength(
      MAX_USERNAME_LENGTH,
    );
    expect(() => callerFromClaims(claims('u'.repeat(MAX_USERNAME_LENGTH + 1)), 'cognito:groups')).toThrow(
      NotAuthenticated,
    );
  });
});

describe('requirePermission', () => {
  const caller = callerFromClaims({ sub: 'u', g: '[TASK_VIEWER]' }, 'g');

  it('passes when the caller has one of the permissions', () => {
    expect(() => requirePermission(caller, 'TASK_MANAGER', 'TASK_VIEWER')).not.toThrow();
  });

  it('refuses, naming the permission, when the caller has none of them', () => {
    expect(() => requirePermission(caller, 'HOST_MANAGER')).toThrow(PermissionDenied);
    expect(() => requirePermission(caller, 'HOST_MANAGER')).toThrow(/HOST_MANAGER/);
  });

  it('does not treat a permission name inside another as granted', () => {
    const other = callerFromClaims({ sub: 'u', g: '[HOST_MANAGER_READONLY]' }, 'g');
    expect(() => requirePermission(other, 'HOST_MANAGER')).toThrow(PermissionDenied);
  });
});

describe('parseListClaim', () => {
  it.each([
    ['[]', []],
    ['', []],
    ['A', ['A']],
    ['A,B', ['A', 'B']],
  ])('parses %j', (raw, expected) => {
    expect(parseListClaim(raw)).toEqual(expected);
  });

  it('ignores non-string values', () => {
    expect(parseListClaim(42)).toEqual([]);
    expect(parseListClaim(['A', 1])).toEqual(['A']);
  });
});
