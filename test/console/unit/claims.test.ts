import { describe, expect, it } from 'vitest';
import { readToken } from '../../../console/src/claims.ts';

const jwt = (payload: unknown) =>
  `eyJhbGciOiJSUzI1NiJ9.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.sig`;
const NOW = Date.parse('2026-12-01T10:00:00Z');

describe('readToken', () => {
  it('reads the user, the permissions from the configured claim, and the expiry', () => {
    const facts = readToken(
      jwt({
        'cognito:username': 'alice',
        'cognito:groups': ['TASK_VIEWER', 'HOST_VIEWER'],
        exp: NOW / 1000 + 60,
      }),
      'cognito:groups',
      NOW,
    );
    expect(facts).toEqual({
      user: 'alice',
      permissions: new Set(['TASK_VIEWER', 'HOST_VIEWER']),
      expiresAt: NOW + 60_000,
    });
  });

  it('reads a permissions claim given as one string, as API Gateway passes it, and UTF-8 names', () => {
    const facts = readToken(jwt({ sub: 'zoë', perms: '[TASK_MANAGER HOST_MANAGER]' }), 'perms', NOW);
    expect(facts.user).toBe('zoë');
    expect([...facts.permissions]).toEqual(['TASK_MANAGER', 'HOST_MANAGER']);
  });

  it('refuses what is no JWT, an unreadable payload, and an expired token', () => {
    expect(() => readToken('abc', 'cognito:groups', NOW)).toThrow(/not a JWT/);
    expect(() => readToken('a.%%%.c', 'cognito:groups', NOW)).toThrow(/not readable/);
    expect(() => readToken(jwt({ sub: 'a', exp: NOW / 1000 - 1 }), 'cognito:groups', NOW)).toThrow(/expired/);
  });
});
