import { Metrics } from '@aws-lambda-powertools/metrics';
import { METRICS, METRICS_NAMESPACE, METRICS_SERVICE, type MetricPoint } from '#core/metric-names';

/**
 * Local mode sets it to `readable`: one short line per metric instead of CloudWatch's EMF JSON. `off`
 * writes none (the test suites, whose output they flooded); any other value, or none, writes EMF.
 */
export const METRICS_OUTPUT_VARIABLE = 'OCP_METRICS_OUTPUT';

const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: METRICS_SERVICE });

/**
 * Emits each point at once as its own EMF line (a Powertools single metric): points of one
 * invocation have different dimensions, and nothing is left to flush when the invocation ends (so
 * no "No application metrics to publish" warning from invocations that emit none).
 */
export function emitMetrics(points: readonly MetricPoint[]): void {
  for (const point of points) emitMetric(point);
}

export function emitMetric(point: MetricPoint): void {
  const definition = METRICS[point.metric];
  const dimensions = point.dimensions as Readonly<Record<string, string>>;
  const output = process.env[METRICS_OUTPUT_VARIABLE];
  if (output === 'off') return;
  if (output === 'readable') {
    const labels = Object.entries(dimensions).map(([name, value]) => `${name}=${value}`);
    console.log(
      `metric ${definition.name}${labels.length ? `{${labels.join(',')}}` : ''} ${point.value} ${definition.unit}`,
    );
    return;
  }
  const single = metrics.singleMetric();
  for (const name of definition.dimensions) {
    const value = dimensions[name];
    if (value !== undefined) single.addDimension(name, value);
  }
  single.addMetric(definition.name, definition.unit, point.value);
}
