import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trainedSample } from '../support/trained-sample.js';
import { startStack, uploadAndRegister } from '../support/local-stack.js';
import { ScriptedJudge, settled } from '../promotion/support.js';

/** One span as OTLP/HTTP JSON carries it (ids hex, attributes as key/value pairs). */
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: { stringValue?: string; intValue?: string | number } }[];
}

/** A tiny OTLP/HTTP collector: every JSON export to /v1/traces, kept raw and as spans. */
async function receiver() {
  const bodies: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url === '/v1/traces' && req.headers['content-type']?.startsWith('application/json'))
        bodies.push(Buffer.concat(chunks).toString('utf8'));
      res.writeHead(req.url === '/v1/traces' ? 200 : 404, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const spans = () =>
    bodies.flatMap((b) => {
      const doc = JSON.parse(b) as {
        resourceSpans: { resource: { attributes: OtlpSpan['attributes'] }; scopeSpans: { spans: OtlpSpan[] }[] }[];
      };
      return doc.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans.map((span) => ({ ...span, resource: r.resource }))));
    });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    bodies,
    spans,
    close: () => new Promise((r) => server.close(r)),
  };
}

const attr = (s: OtlpSpan, key: string) => {
  const v = s.attributes.find((a) => a.key === key)?.value;
  return v?.stringValue ?? (v?.intValue === undefined ? undefined : Number(v.intValue));
};

describe('OpenTelemetry traces of the local server', () => {
  it('sends one registration as a request span whose children are the port spans, naming the artifact', async () => {
    const collector = await receiver();
    try {
      const stack = await startStack({ OTEL_EXPORTER_OTLP_ENDPOINT: collector.url });
      const reg = await uploadAndRegister(stack, 'traced-model', randomBytes(2000));
      expect(reg.status).toBe(201);
      await stack.stop(); // flushes the batch

      const spans = collector.spans();
      expect(spans.length).toBeGreaterThan(0);
      expect(spans[0]!.resource.attributes).toContainEqual({ key: 'service.name', value: { stringValue: 'aegis' } });
      const root = spans.find((s) => s.name === 'POST /v1/registry/register');
      expect(root).toBeDefined();
      expect(root!.parentSpanId ?? '').toBe('');
      expect(root!.kind).toBe(2); // SERVER
      expect(attr(root!, 'aegis.route')).toBe('register');
      expect(attr(root!, 'http.response.status_code')).toBe(201);
      expect(attr(root!, 'aegis.principal_role')).toBe('admin');
      expect(attr(root!, 'aegis.artifact_id')).toBe(reg.body.artifactId);
      expect(attr(root!, 'aegis.model')).toBe('traced-model');

      const inTrace = spans.filter((s) => s.traceId === root!.traceId && s !== root);
      const children = inTrace.filter((s) => s.parentSpanId === root!.spanId);
      expect(children.map((s) => s.name)).toEqual(expect.arrayContaining(['db.transaction', 'object-store.head']));
      // every span of the trace descends from the request span
      const byId = new Map(inTrace.map((s) => [s.spanId, s]));
      for (const s of inTrace) {
        let p = s;
        while (p.parentSpanId !== root!.spanId) p = byId.get(p.parentSpanId!)!;
        expect(p).toBeDefined();
      }
      expect(inTrace.map((s) => s.name)).toContain('signer.sign');
      // the caller's bearer token is never sent to the collector
      expect(collector.bodies.join('\n')).not.toContain(stack.adminToken);
    } finally {
      await collector.close();
    }
  });

  it('carries a promotion request into its state machine: the steps are spans of the request trace', async () => {
    const collector = await receiver();
    try {
      const stack = await startStack({ OTEL_COLLECTOR_URL: collector.url }, { judge: new ScriptedJudge(), waitMs: 5 });
      const reg = await uploadAndRegister(stack, 'traced-ranker', randomBytes(900));
      const res = await stack.api('POST', `/v1/artifacts/${reg.body.artifactId}/promote`, { reason: 'test', targetEnv: 'staging' });
      expect(res.status).toBe(201);
      expect((await settled(stack, res.body.promotionId)).status).toBe('succeeded');
      await stack.stop();

      const spans = collector.spans();
      const root = spans.find((s) => s.name === 'POST /v1/artifacts/{artifactId}/promote')!;
      expect(attr(root, 'aegis.promotion_id')).toBe(res.body.promotionId);
      expect(attr(root, 'aegis.artifact_id')).toBe(reg.body.artifactId);
      const inTrace = spans.filter((s) => s.traceId === root.traceId);
      const policy = inTrace.find((s) => s.name === 'policy.decide')!;
      expect(policy.parentSpanId).toBe(root.spanId);
      expect(attr(policy, 'aegis.artifact_id')).toBe(reg.body.artifactId);
      const start = inTrace.find((s) => s.name === 'workflows.start')!;
      expect(start.parentSpanId).toBe(root.spanId);
      expect(attr(start, 'aegis.machine')).toBe('promotion');
      const steps = inTrace.filter((s) => s.name === 'workflow.step');
      expect(steps.map((s) => attr(s, 'aegis.step'))).toEqual(['start', 'promoteFully']);
      for (const step of steps) {
        expect(step.parentSpanId).toBe(start.spanId);
        expect(attr(step, 'aegis.promotion_id')).toBe(res.body.promotionId);
      }
    } finally {
      await collector.close();
    }
  });

  it('traces a prediction: the model runtime loads and predicts inside the request that names the artifact served', async () => {
    const collector = await receiver();
    const work = await mkdtemp(join(tmpdir(), 'aegis-traced-serving-'));
    try {
      const stack = await startStack({ OTEL_EXPORTER_OTLP_ENDPOINT: collector.url });
      const { artifactId } = await trainedSample(stack, work, 'traced-churn');
      const r = await stack.api('POST', '/v1/serving/traced-churn/staging/predict', { inputs: [[37.9, 52401.2, 0.75, 0.62, 99.8]] });
      expect(r.status).toBe(200);
      await stack.stop();

      const spans = collector.spans();
      const root = spans.find((s) => s.name === 'POST /v1/serving/{model}/{env}/predict')!;
      expect(attr(root, 'aegis.artifact_id')).toBe(artifactId);
      expect(attr(root, 'aegis.model')).toBe('traced-churn');
      const inTrace = new Map(spans.filter((s) => s.traceId === root.traceId).map((s) => [s.spanId, s]));
      const descends = (s: OtlpSpan): boolean =>
        s.parentSpanId === root.spanId ||
        (s.parentSpanId !== undefined && inTrace.has(s.parentSpanId) && descends(inTrace.get(s.parentSpanId)!));
      for (const name of ['model-runtime.load', 'model-runtime.predict']) {
        const span = [...inTrace.values()].find((s) => s.name === name);
        expect(span && descends(span)).toBe(true);
        expect(attr(span!, 'aegis.model_format')).toBe('aegis.logreg/v1');
      }
    } finally {
      await collector.close();
      await rm(work, { recursive: true, force: true });
    }
  });

  it('sends nothing when OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_COLLECTOR_URL are unset', async () => {
    const collector = await receiver();
    // the process's own environment names the collector: only the configuration may turn tracing on
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = collector.url;
    try {
      const stack = await startStack();
      expect((await uploadAndRegister(stack, 'untraced-model', randomBytes(2000))).status).toBe(201);
      await stack.stop();
      expect(collector.bodies).toEqual([]);
    } finally {
      delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
      await collector.close();
    }
  });
});
