import { vi } from 'vitest';
import { METRICS_OUTPUT_VARIABLE } from '../../functions/metrics.ts';

/** One metric of a Powertools EMF line: its name, unit, value and dimensions (besides `service`). */
export interface EmittedMetric {
  namespace: string;
  name: string;
  unit: string;
  value: number;
  dimensions: Record<string, string>;
}

/**
 * Captures the EMF lines Powertools Metrics writes to stdout while `run` runs (other output passes
 * through), parsed into one entry per metric.
 */
export async function captureMetrics(run: () => Promise<unknown>): Promise<EmittedMetric[]> {
  const lines: string[] = [];
  // The suites turn metric output off (vitest.config.mts); here the functions write EMF, as on Lambda.
  const output = process.env[METRICS_OUTPUT_VARIABLE];
  process.env[METRICS_OUTPUT_VARIABLE] = 'emf';
  const write = process.stdout.write.bind(process.stdout);
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation(((
    chunk: string | Uint8Array,
    ...rest: never[]
  ) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    if (text.startsWith('{"_aws"')) {
      lines.push(text);
      return true;
    }
    return write(chunk, ...rest);
  }) as typeof process.stdout.write);
  try {
    await run();
  } finally {
    spy.mockRestore();
    if (output === undefined) delete process.env[METRICS_OUTPUT_VARIABLE];
    else process.env[METRICS_OUTPUT_VARIABLE] = output;
  }
  return lines.flatMap((line) => {
    const emf = JSON.parse(line) as {
      _aws: {
        CloudWatchMetrics: {
          Namespace: string;
          Dimensions: string[][];
          Metrics: { Name: string; Unit: string }[];
        }[];
      };
      [key: string]: unknown;
    };
    return emf._aws.CloudWatchMetrics.flatMap((directive) =>
      directive.Metrics.map((metric) => ({
        namespace: directive.Namespace,
        name: metric.Name,
        unit: metric.Unit,
        value: emf[metric.Name] as number,
        dimensions: Object.fromEntries(
          (directive.Dimensions[0] ?? []).filter((d) => d !== 'service').map((d) => [d, String(emf[d])]),
        ),
      })),
    );
  });
}
