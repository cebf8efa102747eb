/**
 * Lambda's traces: X-Ray through Powertools Tracer (the functions run with `tracing: ACTIVE`;
 * API Gateway and Step Functions join the trace). Each request runs in a subsegment named
 * after its route, annotated with the ids the handler reads — `artifactId`, `promotionId`,
 * `model`, `role` — which X-Ray indexes (`annotation.artifactId = "…"` in a filter
 * expression). The AWS SDK clients the Lambda composition makes are captured, so S3, KMS,
 * Step Functions and Data API calls are subsegments too. Outside Lambda the tracer is off
 * and all of this passes through.
 */
import { Tracer } from '@aws-lambda-powertools/tracer';
import { addAnnotator, ATTR, setRequestScope } from './spans.js';

/** The X-Ray annotation key of each span attribute that becomes one. */
const ANNOTATIONS: Record<string, string> = {
  [ATTR.artifactId]: 'artifactId',
  [ATTR.promotionId]: 'promotionId',
  [ATTR.model]: 'model',
  [ATTR.role]: 'role',
};

/** What this file uses of Powertools' Tracer (a test passes a recording stand-in). */
export type XrayTracer = Pick<Tracer, 'isTracingEnabled' | 'getSegment' | 'setSegment' | 'putAnnotation' | 'captureAWSv3Client'>;

/** Runs every request in its own subsegment and turns the ids it reads into annotations; returns the removal. */
export function installXrayTracing(tracer: XrayTracer): () => void {
  setRequestScope(async (name, fn) => {
    const parent = tracer.isTracingEnabled() ? tracer.getSegment() : undefined;
    if (!parent) return fn();
    const sub = parent.addNewSubsegment(`## ${name}`);
    tracer.setSegment(sub);
    try {
      return await fn();
    } catch (e) {
      sub.addError(e as Error);
      throw e;
    } finally {
      sub.close();
      tracer.setSegment(parent);
    }
  });
  const removeAnnotator = addAnnotator((attributes) => {
    if (!tracer.isTracingEnabled()) return;
    for (const [attr, value] of Object.entries(attributes)) {
      const key = ANNOTATIONS[attr];
      if (key && typeof value === 'string') tracer.putAnnotation(key, value);
    }
  });
  return () => {
    setRequestScope(undefined);
    removeAnnotator();
  };
}

let lambdaTracer: Tracer | undefined;

/** The process's Powertools Tracer (service `aegis`), made and installed on first use. */
export function xrayTracer(): Tracer {
  if (!lambdaTracer) {
    lambdaTracer = new Tracer({ serviceName: 'aegis' });
    installXrayTracing(lambdaTracer);
  }
  return lambdaTracer;
}

/** An AWS SDK v3 client whose calls are X-Ray subsegments (unchanged when tracing is off). */
export const captureClient = <T>(client: T): T => xrayTracer().captureAWSv3Client(client);
