import { createSocket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { run } from '../support/spawn.js';
import { installXrayTracing, type XrayTracer } from '../../lib/platform/tracing/xray.js';
import { annotate, idAttributes } from '../../lib/platform/tracing/spans.js';
import { traceRequest } from '../../lib/platform/http/request-span.js';
import { ROUTES } from '../../lib/platform/http/routes.js';
import { traceStep } from '../../lib/platform/tracing/steps.js';

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

  it("runs a state machine's step in its own subsegment annotated with the promotion, and rethrows its error as it was", async () => {
    const { log, annotations } = installed(true);
    const failure = new Error('lease lost');
    const step = traceStep(async (e: { action: string; promotionId: string }) => {
      if (e.action === 'evaluate') throw failure;
      return { next: 'evaluate' };
    });
    await expect(step({ action: 'start', promotionId: 'p-7' })).resolves.toEqual({ next: 'evaluate' });
    await expect(step({ action: 'evaluate', promotionId: 'p-7' })).rejects.toBe(failure);
    expect(annotations).toEqual({ promotionId: 'p-7' });
    expect(log.filter((l) => l.startsWith('open') || l.startsWith('error'))).toEqual([
      'open ## workflow.step',
      'open ## workflow.step',
      'error ## workflow.step: lease lost',
    ]);
  });

  it('opens no subsegment and annotates nothing when tracing is off (outside Lambda)', async () => {
    const { log } = installed(false);
    await traceRequest(ROUTES.promote, event, async () => {
      annotate({ 'aegis.artifact_id': 'a-1' });
      return { statusCode: 200, body: '{}' };
    });
    expect(log).toEqual([]);
  });

  it('with the real Powertools Tracer in Lambda, sends the request subsegment, annotated, under the function segment', async () => {
    const daemon = createSocket('udp4');
    const datagrams: string[] = [];
    daemon.on('message', (m) => datagrams.push(m.toString('utf8')));
    await new Promise<void>((r) => daemon.bind(0, '127.0.0.1', r));
    try {
      const ran = await run(process.execPath, ['--import', 'tsx', join(process.cwd(), 'test/support/xray-request.ts')], {
        env: {
          LAMBDA_TASK_ROOT: process.cwd(),
          AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
          AWS_LAMBDA_FUNCTION_NAME: 'aegis-promote',
          _X_AMZN_TRACE_ID: 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1',
          AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${(daemon.address() as AddressInfo).port}`,
        },
      });
      expect(ran.stdout).toContain('"statusCode":201');
      await eventually(() => datagrams.length > 0);
      const sub = JSON.parse(datagrams[0]!.split('\n')[1]!);
      expect(sub).toMatchObject({
        type: 'subsegment',
        name: `## POST ${ROUTES.promote.path}`,
        trace_id: '1-5759e988-bd862e3fe1be46a994272793',
        parent_id: '53995c3f42cd8ad8',
        annotations: { artifactId: 'artifact-1', promotionId: 'promotion-1', model: 'ranker' },
      });
      expect(sub.end_time).toBeGreaterThanOrEqual(sub.start_time);
    } finally {
      daemon.close();
    }
  });
});

/** Polls until `ok` (a UDP datagram may arrive just after the sender exits). */
async function eventually(ok: () => boolean, timeoutMs = 5000): Promise<void> {
  for (const end = Date.now() + timeoutMs; !ok();) {
    if (Date.now() > end) throw new Error('no X-Ray datagram arrived');
    await new Promise((r) => setTimeout(r, 20));
  }
}
