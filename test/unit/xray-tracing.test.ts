import type { APIGatewayProxyEvent } from 'aws-lambda';
import { installXrayTracing, type XrayTracer } from '../../lib/platform/tracing/xray.js';
import { annotate, idAttributes } from '../../lib/platform/tracing/spans.js';
import { traceRequest } from '../../lib/platform/http/request-span.js';
import { ROUTES } from '../../lib/platform/http/routes.js';

/** A stand-in for Powertools' Tracer recording what the Lambda path does with the X-Ray segments. */
function recordingTracer(enabled: boolean) {
  const log: string[] = [];
  const annotations: Record<string, string> = {};
  const segment = (name: string): any => ({
    name,
    addNewSubsegment: (n: string) => (log.push(`open ${n}`), segment(n)),
    addError: (e: Error) => log.push(`error ${name}: ${e.message}`),
    close: () => log.push(`close ${name}`),
  });
  let current = segment('facade');
  const tracer = {
    isTracingEnabled: () => enabled,
    getSegment: () => current,
    setSegment: (s: { name: string }) => {
      current = s;
      log.push(`set ${s.name}`);
    },
    putAnnotation: (k: string, v: string) => {
      annotations[k] = v;
      log.push(`annotate ${current.name} ${k}`);
    },
    captureAWSv3Client: <T>(c: T) => c,
  } as unknown as XrayTracer;
  return { tracer, log, annotations };
}

let uninstall: (() => void) | undefined;
afterEach(() => uninstall?.());

/** A recording tracer, installed as the Lambda path's X-Ray tracing until the test ends. */
function installed(enabled: boolean) {
  const rec = recordingTracer(enabled);
  uninstall = installXrayTracing(rec.tracer);
  return rec;
}

const event = { httpMethod: 'POST', resource: ROUTES.promote.path } as APIGatewayProxyEvent;

describe('X-Ray tracing on the Lambda path', () => {
  it('runs a request in its route subsegment, annotated with the artifact, promotion, model and role it names', async () => {
    const { log, annotations } = installed(true);
    const result = await traceRequest(ROUTES.promote, event, async () => {
      annotate({ 'aegis.principal_role': 'promoter' });
      annotate(idAttributes({ artifactId: 'a-1' }, { promotionId: 'p-1', modelName: 'ranker', token: 'secret' }));
      return { statusCode: 201, body: '{}' };
    });
    expect(result.statusCode).toBe(201);
    expect(annotations).toEqual({ role: 'promoter', artifactId: 'a-1', promotionId: 'p-1', model: 'ranker' });
    const sub = `## POST ${ROUTES.promote.path}`;
    expect(log[0]).toBe(`open ${sub}`);
    expect(log.filter((l) => l.startsWith('annotate')).every((l) => l.startsWith(`annotate ${sub} `))).toBe(true);
    expect(log.slice(-2)).toEqual([`close ${sub}`, 'set facade']);
  });

  it('records a failed request on its subsegment and closes it', async () => {
    const { log } = installed(true);
    await expect(traceRequest(ROUTES.promote, event, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(log).toContain(`error ## POST ${ROUTES.promote.path}: boom`);
    expect(log.slice(-2)).toEqual([`close ## POST ${ROUTES.promote.path}`, 'set facade']);
  });

  it('opens no subsegment and annotates nothing when tracing is off (outside Lambda)', async () => {
    const { log } = installed(false);
    await traceRequest(ROUTES.promote, event, async () => {
      annotate({ 'aegis.artifact_id': 'a-1' });
      return { statusCode: 200, body: '{}' };
    });
    expect(log).toEqual([]);
  });
});
