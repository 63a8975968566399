import { afterEach, describe, expect, it, vi } from 'vitest';
import { emitMetric, METRICS_OUTPUT_VARIABLE } from '../../functions/metrics.ts';
import { captureMetrics } from '../support/emf.ts';

const ENDED = { metric: 'restartTaskEnded', value: 1, dimensions: { outcome: 'SUCCESSFUL' } } as const;

/** What emitMetric writes to stdout, directly or through the console, under `output`. */
function writtenUnder(output: string): string {
  vi.stubEnv(METRICS_OUTPUT_VARIABLE, output);
  const chunks: string[] = [];
  const spies = [
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      chunks.push(String(chunk));
      return true;
    }),
    vi.spyOn(console, 'log').mockImplementation((...values: unknown[]) => {
      chunks.push(`${values.join(' ')}\n`);
    }),
  ];
  try {
    emitMetric(ENDED);
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
  return chunks.join('');
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('a metric’s output', () => {
  it('is one readable line in local mode', () => {
    expect(writtenUnder('readable')).toBe('metric RestartTasksEnded{outcome=SUCCESSFUL} 1 Count\n');
  });

  it('is nothing when turned off', () => {
    expect(writtenUnder('off')).toBe('');
  });

  it('is CloudWatch EMF otherwise, as on Lambda', async () => {
    const emitted = await captureMetrics(async () => emitMetric(ENDED));

    expect(emitted).toEqual([
      expect.objectContaining({
        name: 'RestartTasksEnded',
        unit: 'Count',
        value: 1,
        dimensions: { outcome: 'SUCCESSFUL' },
      }),
    ]);
    expect(process.env[METRICS_OUTPUT_VARIABLE]).toBe('off');
  });
});
