import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RESTART_SUBTASKS } from '#core/subtasks';
import { loadOrCreateSigningKey, signLocalToken, verifyLocalToken } from '#local/jwt';
import {
  isJwt,
  OcpRestartEnvelope,
  restartEnvelopeProblem,
  tamperedToken,
  taskDeadlineSeconds,
} from '../../tools/smoke-checks.ts';
import { referenceRestartResponse } from '../support/reference-sample.ts';

describe("the smoke test's check of the restart envelope", () => {
  it("accepts OCP's own sample response for host 2", () => {
    const sample = referenceRestartResponse();

    expect(OcpRestartEnvelope.safeParse(sample).success).toBe(true);
    expect(restartEnvelopeProblem(sample, '2')).toBeUndefined();
  });

  it('names a field of the wrong type', () => {
    const sample = referenceRestartResponse();
    sample.data.hostId = '2';

    expect(restartEnvelopeProblem(sample, '2')).toMatch(/^not OCP's envelope: data\.hostId: /);
  });

  it('names a missing subtask field', () => {
    const sample = referenceRestartResponse();
    delete sample.data.subtasks[0]!.timeout;

    expect(restartEnvelopeProblem(sample, '2')).toMatch(/^not OCP's envelope: data\.subtasks\.0\.timeout: /);
  });

  it('refuses a task of another host', () => {
    expect(restartEnvelopeProblem(referenceRestartResponse(), '3')).toBe('the task is for host 2, not 3');
  });

  it('refuses subtasks that are not the five, chained in order, with their timeouts', () => {
    const sample = referenceRestartResponse();
    const stop = sample.data.subtasks.find((subtask) => subtask.name === 'Stop all OCP agent processes')!;
    stop.timeout = 60;

    expect(restartEnvelopeProblem(sample, '2')).toMatch(
      /^subtasks .*Stop all OCP agent processes \(60 s\).*; expected .*Stop all OCP agent processes \(600 s\)/,
    );
  });

  it('refuses an envelope that did not succeed', () => {
    const sample = referenceRestartResponse();
    sample.successful = false;

    expect(restartEnvelopeProblem(sample, '2')).toBe('successful=false, status=200');
  });
});

describe('the deadline of the restart', () => {
  it("is the sum of the subtasks' timeouts (60 + 60 + 600 + 600 + 60 s) plus a 60 s margin", () => {
    expect(RESTART_SUBTASKS.map((subtask) => subtask.timeoutSeconds)).toEqual([60, 60, 600, 600, 60]);
    expect(taskDeadlineSeconds()).toBe(1440);
  });
});

describe('the tampered token', () => {
  it('keeps the header and signature, changes the payload, and no longer verifies', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'smoke-jwt-'));
    try {
      const key = await loadOrCreateSigningKey(dir);
      const token = await signLocalToken({ user: 'alice', permissions: ['HOST_MANAGER'] }, key);
      await expect(verifyLocalToken(token, key)).resolves.toMatchObject({ 'cognito:username': 'alice' });

      const tampered = tamperedToken(token);

      const [header, payload, signature] = token.split('.');
      const parts = tampered.split('.');
      expect([parts[0], parts[2]]).toEqual([header, signature]);
      expect(parts[1]).not.toBe(payload);
      expect(isJwt(tampered)).toBe(true);
      await expect(verifyLocalToken(tampered, key)).rejects.toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is checked to be a JWT before use', () => {
    expect(isJwt('not-a-token')).toBe(false);
    expect(isJwt('a.b.c')).toBe(false);
    expect(isJwt(`e30.${Buffer.from('{"sub":"x"}').toString('base64url')}.c2ln`)).toBe(true);
  });
});
