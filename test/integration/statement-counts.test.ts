/**
 * Statements per request (issue 25): a registration runs at most 4 SQL statements (in one request
 * too: the upload of the bytes it brings is recorded by its write), a promotion request at most 9, an authenticated GET that is not audited 1 (BEGIN and COMMIT are not
 * statements). The events outbox is no statement of its own: the audit append's statement
 * enqueues the deliveries. Counted by the Kysely plugin every database
 * adapter installs, as the server itself counts them (its ai_infra_db_statements_per_request
 * histogram): a count, never a time.
 */
import { randomBytes } from 'node:crypto';
import { countStatements } from '../../lib/platform/sql/statements.js';
import type { Principal } from '../../lib/kernel/identity.js';
import { manifestFor, registerDatasets, startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';
import { startReceiver, type Receiver } from '../support/webhook-receiver.js';
import { settled } from '../promotion/support.js';

/**
 * A registration: 1 the upload, model, idempotency key and same-bytes record in one read, 2 the
 * datasets the manifest names (only when this process has not seen them: immutable records,
 * cached), then one transaction: 3 its rows written and the chain head locked, 4 the events
 * appended, the head moved and the deliveries enqueued.
 */
const REGISTRATION_LIMIT = 4;
/**
 * A promotion request, the key ring cached (a cold process reads it: 2 more), each fact read once:
 *  1 select quarantine_requests: refused when quarantined (the verification and the policy are told the state)
 *  2 select artifacts: the record, for the request, its verification (the bytes are hashed again) and the gates
 *  3 select routes: what the routes table says serves the model there
 *  4 select promotions: the artifact's promotions to canary and the target, and the model's to the target
 *  5 select audit_events: their step and end events and the route's drains, checked by hash and signature
 *  6 select artifacts: the serving artifact's metrics (only when something serves there)
 *  then one transaction: 7 the in-flight promotion locked, 8 insert promotions and the chain head
 *  locked after it, 9 the events, the head and the deliveries in one statement (the ring confirmed unchanged under that lock).
 * Nothing is read after the commit; the rollout's steps are the state machine's, not the request's.
 */
const PROMOTION_LIMIT = 9;
const OUTBOX = 'insert event_deliveries';

let stack: Stack;
let admin: Principal;
let receiver: Receiver;
beforeAll(async () => {
  stack = await startStack();
  admin = (await stack.container.tokens.resolve(stack.adminToken))!;
  // a live subscription, so the outbox statement inserts rows
  receiver = await startReceiver();
  receiver.secret = `receiver-secret-${randomBytes(12).toString('hex')}`;
  const sub = await stack.api('POST', '/v1/webhooks', { url: receiver.url, events: ['*'], secret: receiver.secret });
  expect(sub.status).toBe(201);
});
afterAll(async () => {
  await stack.stop();
  await receiver.close();
});

async function uploaded(model: string) {
  const artifact = randomBytes(3000);
  const manifest = manifestFor(model, artifact);
  await registerDatasets(stack, manifest);
  const up = await stack.api('POST', '/v1/registry/uploads', { modelName: model, size: artifact.length });
  const put = await fetch(up.body.url, { method: 'PUT', body: artifact, headers: up.body.headers ?? {} });
  expect(put.status).toBe(200);
  return { uploadId: up.body.uploadId as string, manifest: manifest as never };
}

/** The server's count of statements for a route so far: the sum and count of its histogram. */
async function served(route: string): Promise<{ statements: number; requests: number }> {
  const text = await (await fetch(`${stack.url}/metrics`)).text();
  const value = (suffix: string) =>
    Number(new RegExp(`^ai_infra_db_statements_per_request_${suffix}\\{route="${route}"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return { statements: value('sum'), requests: value('count') };
}

describe('SQL statements per request', () => {
  it.each([
    ['a new model, with a team and an Idempotency-Key', { team: 'vision', key: true }],
    ['a next version, no key', { team: undefined, key: false }],
  ])('registers %s in at most 4 statements, the outbox in the append', async (_name, opts) => {
    const model = `counted-${opts.key ? 'new' : 'next'}`;
    if (!opts.key) await uploadAndRegister(stack, model, randomBytes(100)); // the model exists
    const { uploadId, manifest } = await uploaded(model);
    const { result, statements } = await countStatements(() =>
      stack.container.registry.register(
        { uploadId, manifest, ...(opts.team && { team: opts.team }) },
        admin,
        opts.key ? `k-${randomBytes(4).toString('hex')}` : undefined,
      ),
    );
    expect(result.replayed).toBe(false);
    const breakdown = statements.join(', ');
    expect({ outbox: statements.filter((s) => s === OUTBOX).length, breakdown }).toEqual({ outbox: 0, breakdown });
    if (statements.length > REGISTRATION_LIMIT) throw new Error(`${statements.length} statements: ${breakdown}`);
    // every event of the change reached the subscriber: the append's statement enqueued them all
    const types = opts.team ? ['manifest.signed', 'artifact.registered', 'model.team.set'] : ['manifest.signed', 'artifact.registered'];
    const delivered = await receiver.until((es) =>
      types.every((t) =>
        es.some(
          (e) => (e.type === t && e.payload.artifactId === result.artifactId) || (t === 'model.team.set' && e.subject === `model:${model}`),
        ),
      ),
    );
    expect(delivered.length).toBeGreaterThan(0);
  });

  it('registers a small artifact in one request in at most 4 statements, its upload row written by the registration, and a replay of it reads only', async () => {
    const model = 'counted-inline';
    const bytes = randomBytes(3000);
    const manifest = manifestFor(model, bytes) as never;
    await registerDatasets(stack, manifest);
    const register = () => stack.container.registry.registerInline({ manifest, bytes }, admin, 'inline-counted-key');
    const { result, statements } = await countStatements(register);
    expect(result.replayed).toBe(false);
    const breakdown = statements.join(', ');
    expect({ uploads: statements.filter((s) => s === 'insert uploads').length, breakdown }).toEqual({ uploads: 0, breakdown });
    if (statements.length > REGISTRATION_LIMIT) throw new Error(`${statements.length} statements: ${breakdown}`);
    const rows = await stack.container.database.db.selectFrom('uploads').select('registered_at').where('model_name', '=', model).execute();
    expect(rows).toEqual([{ registered_at: expect.any(Date) }]);
    const replay = await countStatements(register);
    expect(replay.result).toEqual({ ...result, replayed: true });
    expect(replay.statements.filter((s) => !s.startsWith('select'))).toEqual([]);
  });

  it('a replay by Idempotency-Key reads, writes nothing', async () => {
    const { uploadId, manifest } = await uploaded('counted-replay');
    await stack.container.registry.register({ uploadId, manifest }, admin, 'replay-key');
    const { result, statements } = await countStatements(() =>
      stack.container.registry.register({ uploadId, manifest }, admin, 'replay-key'),
    );
    expect(result.replayed).toBe(true);
    expect(statements.filter((s) => !s.startsWith('select'))).toEqual([]);
  });

  it('serves an authenticated GET of a version or an artifact in 1 statement, and a registration through HTTP within the limit', async () => {
    const reg = await uploadAndRegister(stack, 'counted-get', randomBytes(500), { team: 'counting' });
    expect(reg.status).toBe(201);
    const { artifactId, version } = reg.body;
    // a team-scoped caller too: its scope is checked in the same read
    const token = await stack.api('POST', '/v1/tokens', { principal: 'counting-reader', role: 'reader', scope: { teams: ['counting'] } });
    expect(token.status).toBe(201);
    const elsewhere = await stack.api('POST', '/v1/tokens', { principal: 'other-reader', role: 'reader', scope: { teams: ['other'] } });
    const callers = [
      ['global', stack.adminToken],
      ['team-scoped', token.body.token as string],
    ] as const;
    // the tokens are read (and their last use written) once: then cached
    for (const bearer of [...callers.map(([, b]) => b), elsewhere.body.token])
      expect((await stack.api('GET', '/v1/registry/models', undefined, { token: bearer })).status).toBe(200);
    for (const [caller, bearer] of callers)
      for (const [route, path] of [
        ['versionGet', `/v1/registry/models/counted-get/versions/${version}`],
        ['artifactGet', `/v1/artifacts/${artifactId}`],
      ]) {
        const before = await served(route!);
        const res = await stack.api('GET', path!, undefined, { token: bearer });
        expect({ caller, route, status: res.status, artifactId: res.body.artifactId }).toEqual({ caller, route, status: 200, artifactId });
        // outside the caller's scope the same read finds nothing
        const hidden = await stack.api('GET', path!, undefined, { token: elsewhere.body.token });
        expect({ route, status: hidden.status }).toEqual({ route, status: 404 });
        const after = await served(route!);
        expect({ caller, route, requests: after.requests - before.requests, statements: after.statements - before.statements }).toEqual({
          caller,
          route,
          requests: 2,
          statements: 2,
        });
      }
    const before = await served('register');
    expect((await uploadAndRegister(stack, 'counted-get', randomBytes(500))).status).toBe(201);
    const after = await served('register');
    expect(after.requests - before.requests).toBe(1);
    expect(after.statements - before.statements).toBeLessThanOrEqual(REGISTRATION_LIMIT);
  });
});

describe('SQL statements per promotion request', () => {
  /** Requests the promotion, counting its statements (at most the limit, none of them the outbox's). */
  async function counted(artifactId: string, body: Record<string, unknown>) {
    const { result, statements } = await countStatements(() => stack.container.promotions.promote(artifactId, body as never, admin));
    const breakdown = statements.join(', ');
    expect({ outbox: statements.filter((s) => s === OUTBOX).length, breakdown }).toEqual({ outbox: 0, breakdown });
    const others = statements;
    if (others.length > PROMOTION_LIMIT) throw new Error(`${others.length} statements: ${breakdown}`);
    expect(result.status).toBe('rolling_out');
    return { promotion: result, others };
  }

  const registered = async (model: string) => {
    const res = await uploadAndRegister(stack, model, randomBytes(700));
    expect(res.status).toBe(201);
    return res.body.artifactId as string;
  };

  beforeAll(async () => {
    // the key ring cached as a running server holds it
    const warm = await registered('counted-promo-warm');
    await settled(
      stack,
      (await stack.container.promotions.promote(warm, { targetEnv: 'staging', reason: 'warm' } as never, admin)).promotionId,
    );
  });

  it('requests a staging promotion where nothing serves in at most 9 statements, the outbox in the append, then rolls it out', async () => {
    const a = await registered('counted-promo');
    const { promotion, others } = await counted(a, { targetEnv: 'staging', reason: 'counted' });
    // nothing serves there: the serving artifact is not read
    expect(others.filter((s) => s === 'select artifacts')).toHaveLength(1);
    expect((await settled(stack, promotion.promotionId)).status).toBe('succeeded');
    // the next one, with the first serving: its metrics are read, once, and the gates find the first applied on the chain
    const b = await registered('counted-promo');
    const next = await counted(b, { targetEnv: 'staging', reason: 'counted, with one serving' });
    expect(next.others.filter((s) => s === 'select artifacts')).toHaveLength(2);
    expect(next.promotion.policyDecision.decision).toBe('allow');
    expect((await settled(stack, next.promotion.promotionId)).status).toBe('succeeded');
  });

  it('requests a canary promotion in at most 9 statements, the outbox in the append, audited with its signed record', async () => {
    const a = await registered('counted-canary');
    const { promotion } = await counted(a, { targetEnv: 'canary', reason: 'counted', canary: { steps: 1 } });
    expect(promotion.recordSignature).toMatchObject({ signerId: expect.any(String), signature: expect.any(String) });
    const events = await stack.container.audit.events(stack.container.database.db, {
      subjects: [`promotion:${promotion.promotionId}`],
      types: ['promotion.requested'],
    });
    expect(events.map((e) => e.payload.recordSignature)).toEqual([promotion.recordSignature]);
    // its windows would take minutes here: aborted, so the stack stops with nothing rolling out
    expect((await stack.api('POST', `/v1/promotions/${promotion.promotionId}/abort`, { reason: 'counted only' })).status).toBe(202);
  });
});
