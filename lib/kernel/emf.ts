/**
 * CloudWatch Embedded Metric Format (EMF): a JSON log line whose `_aws` member tells
 * CloudWatch Logs which of the line's own fields are metrics and which are dimensions, so a
 * log line becomes metrics without an API call
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html).
 * Pure: the callers write the line.
 */

/** The namespace of the serving function's and the ingest's metrics (one line per event, or per delivery). */
export const SERVING_METRICS_NAMESPACE = 'Aegis/Serving';

/** The metric names in {@link SERVING_METRICS_NAMESPACE}: the alarms and the dashboard use the same constants. */
export const SERVING_METRIC = {
  /** 1 per served request (Count) */
  requests: 'Requests',
  /** 1 per failed request, else 0 (Count): Sum / Requests' Sum is the error rate */
  errors: 'Errors',
  /** server-side latency of a request that did not wait on a model load (Milliseconds) */
  latency: 'LatencyMs',
  /** seconds from the oldest event of a delivery to its ingest (Seconds, one per delivery) */
  ingestLag: 'IngestLagSeconds',
  /** serving events in a delivery (Count) */
  ingested: 'IngestedEvents',
  /** events of a delivery already stored: a redelivery (Count) */
  duplicates: 'DuplicateEvents',
} as const;

/** The ingest's metrics carry one dimension, `Service`, with this value. */
export const SERVING_INGEST_SERVICE = 'serving-ingest';

/**
 * The dimension sets of the per-request metrics. Every distinct combination of dimension
 * values is one billed custom metric: `[Environment, Variant]` is at most 3 × 2 series per
 * metric, `[Model, Environment, Variant]` one per model, environment and arm in use (never
 * the artifact id or the request: that would make a metric per canary or per request).
 */
export const SERVING_DIMENSION_SETS = [
  ['Environment', 'Variant'],
  ['Model', 'Environment', 'Variant'],
] as const;

/** The units EMF accepts that these metrics use. */
export type EmfUnit = 'Count' | 'Milliseconds' | 'Seconds';

export interface EmfDirective {
  Timestamp: number;
  CloudWatchMetrics: {
    Namespace: string;
    Dimensions: string[][];
    Metrics: { Name: string; Unit: EmfUnit }[];
  }[];
}

/**
 * The `_aws` member of an EMF line: `metrics` name fields of the same line (numbers), each
 * of `dimensions` names fields holding strings.
 *
 * @example
 * JSON.stringify({ Environment: 'prod', Requests: 1, _aws: emfDirective(Date.now(), 'Aegis/Serving', [['Environment']], { Requests: 'Count' }) })
 */
export function emfDirective(
  timestamp: number,
  namespace: string,
  dimensions: readonly (readonly string[])[],
  metrics: Readonly<Record<string, EmfUnit>>,
): EmfDirective {
  return {
    Timestamp: timestamp,
    CloudWatchMetrics: [
      {
        Namespace: namespace,
        Dimensions: dimensions.map((set) => [...set]),
        Metrics: Object.entries(metrics).map(([Name, Unit]) => ({ Name, Unit })),
      },
    ],
  };
}
