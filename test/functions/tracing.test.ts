import { afterEach, describe, expect, it, vi } from 'vitest';

/** Lambda's environment for a sampled invocation, as the runtime sets it with active tracing. */
const LAMBDA_ENV = {
  AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
  LAMBDA_TASK_ROOT: '/var/task',
  _HANDLER: 'index.handler',
  _X_AMZN_TRACE_ID: 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1',
  // Segments go to a daemon address nothing listens on (UDP: sending cannot fail).
  AWS_XRAY_DAEMON_ADDRESS: '127.0.0.1:2000',
};

async function freshModules() {
  vi.resetModules();
  const { appendTaskKeys, loggedInvocation } = await import('../../functions/logger.ts');
  const { tracer } = await import('../../functions/tracer.ts');
  return { appendTaskKeys, loggedInvocation, tracer };
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('tracing', () => {
  it('runs each invocation in a handler subsegment annotated with the task’s keys', async () => {
    for (const [name, value] of Object.entries(LAMBDA_ENV)) vi.stubEnv(name, value);
    vi.stubEnv('POWERTOOLS_TRACE_ENABLED', undefined);
    const { appendTaskKeys, loggedInvocation, tracer } = await freshModules();
    expect(tracer.isTracingEnabled()).toBe(true);
    let traced: { name?: string; annotations?: Record<string, unknown> } | undefined;
    await loggedInvocation(async () => {
      appendTaskKeys({ taskId: 7, subtask: 'Prepare restart OCP agent', subtaskIndex: 0, attempt: 2 });
      traced = tracer.getSegment() as typeof traced;
    })();
    expect(traced?.name).toBe('## index.handler');
    expect(traced?.annotations).toMatchObject({
      taskId: 7,
      subtask: 'Prepare restart OCP agent',
      subtaskIndex: 0,
      attempt: 2,
      ColdStart: expect.any(Boolean),
      Service: 'ocp-agent-restart',
    });
  });

  it('is a no-op where POWERTOOLS_TRACE_ENABLED=false, as local mode sets it, even on Lambda', async () => {
    for (const [name, value] of Object.entries(LAMBDA_ENV)) vi.stubEnv(name, value);
    vi.stubEnv('POWERTOOLS_TRACE_ENABLED', 'false');
    const { appendTaskKeys, loggedInvocation, tracer } = await freshModules();
    expect(tracer.isTracingEnabled()).toBe(false);
    const answer = await loggedInvocation(async () => {
      appendTaskKeys({ taskId: 7 });
      return 'done';
    })();
    expect(answer).toBe('done');
  });

  it('records an invocation’s error and passes it on', async () => {
    for (const [name, value] of Object.entries(LAMBDA_ENV)) vi.stubEnv(name, value);
    vi.stubEnv('POWERTOOLS_TRACE_ENABLED', undefined);
    const { loggedInvocation } = await freshModules();
    await expect(
      loggedInvocation(async () => {
        throw new Error('boom');
      })(),
    ).rejects.toThrow('boom');
  });
});
