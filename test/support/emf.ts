import { vi } from 'vitest';

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
