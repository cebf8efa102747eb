import { randomBytes, randomUUID } from 'node:crypto';
import type * as z from 'zod';
import { ROUTES, type RouteId, type RouteSpec } from '../../lib/platform/http/routes.js';
import { manifestFor, startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';
import { ScriptedJudge, settled } from '../promotion/support.js';
import { recordReport } from '../support/drift-reports.js';
import { PATH_ID_SCOPES } from '../../lib/platform/http/routes/spec.js';

/**
 * Scoped grants (issue 15): a principal's role applies to every model (global) or to the
 * models of some name prefixes and teams. The route table is walked, so a new route that
 * reaches a model cannot skip the check.
 */
let stack: Stack;
/** admin over team `fraud` only; admin over nothing that exists (`zzz-` prefix); publisher over team `fraud` */
let inScope: string;
let outOfScope: string;
let fraudPublisher: string;
const fraud = {
  model: 'fraud-scorer',
  version: 1,
  artifactId: '',
  promotionId: '',
  requestId: '',
  runId: '',
  reportId: '',
  suggestionId: '',
};

const tokenFor = async (principal: string, role: string, scope?: object) => {
  const r = await stack.api('POST', '/v1/tokens', { principal, role, ...(scope ? { scope } : {}) });
  expect(r.status).toBe(201);
  return r.body.token as string;
};

beforeAll(async () => {
  stack = await startStack({}, { judge: new ScriptedJudge(), waitMs: 5 });
  const reg = await uploadAndRegister(stack, fraud.model, randomBytes(900), { team: 'fraud' });
  expect(reg.status).toBe(201);
  fraud.artifactId = reg.body.artifactId;
  expect((await uploadAndRegister(stack, 'churn-model', randomBytes(900), { team: 'growth' })).status).toBe(201);
  expect((await uploadAndRegister(stack, 'churn-baseline', randomBytes(900))).status).toBe(201);
  const p = await stack.api('POST', `/v1/artifacts/${fraud.artifactId}/promote`, { targetEnv: 'staging', reason: 'scope tests' });
  expect(p.status).toBe(201);
  fraud.promotionId = p.body.promotionId;
  await settled(stack, fraud.promotionId);
  // a quarantined version of the model that serves nowhere, and the pending (multisig) request to release it
  const bad = await uploadAndRegister(stack, fraud.model, randomBytes(900));
  expect((await stack.api('POST', `/v1/artifacts/${bad.body.artifactId}/quarantine`, { reason: 'scope walk' })).status).toBe(201);
  const release = await stack.api('POST', `/v1/artifacts/${bad.body.artifactId}/quarantine/release`, { reason: 'scope walk' });
  expect(release.status).toBe(202);
  fraud.requestId = release.body.requests.find((r: { status: string }) => r.status === 'pending_multisig').requestId;
  // a drift run of the served model, and a drifted report with the suggestion it raised
  const run = await stack.api('POST', '/v1/drift/runs', { modelName: fraud.model, env: 'staging' });
  expect(run.status).toBe(202);
  fraud.runId = run.body.run.runId;
  const report = await recordReport(stack, { model: fraud.model, env: 'staging', artifactId: fraud.artifactId, drifted: true });
  fraud.reportId = report.reportId;
  fraud.suggestionId = report.suggestionId!;
  inScope = await tokenFor('fraud-admin', 'admin', { teams: ['fraud'] });
  outOfScope = await tokenFor('other-admin', 'admin', { prefixes: ['zzz-'] });
  fraudPublisher = await tokenFor('fraud-ci', 'publisher', { teams: ['fraud'] });
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

/** Routes that take an id yet reach no model, and why. */
const GLOBAL_BY_DESIGN: Partial<Record<RouteId, string>> = {
  datasetGet: 'datasets are shared by every team: a dataset names no model',
  datasetsCreate: 'datasets are shared by every team: a dataset names no model',
};

/** A schema-valid body for each route with a path id that parses one (the scope check runs after parsing). */
const BODIES: Partial<Record<RouteId, () => unknown>> = {
  promote: () => ({ targetEnv: 'staging', reason: 'scope walk' }),
  promoteVersion: () => ({ targetEnv: 'staging', reason: 'scope walk' }),
  rollback: () => ({ targetEnv: 'staging', toArtifactId: fraud.artifactId, reason: 'scope walk' }),
  promotionCancel: () => ({ reason: 'scope walk' }),
  promotionAbort: () => ({ reason: 'scope walk' }),
  promotionApprove: () => ({ approverId: 'nobody', signature: 'AAAA', expiresAt: new Date(Date.now() + 3_600_000).toISOString() }),
  quarantine: () => ({ reason: 'scope walk' }),
  quarantineRelease: () => ({ reason: 'scope walk' }),
  // the fraud model's staging artifact is random bytes: in scope, serving refuses it (503), which is not a 404
  servingPredict: () => ({ inputs: [[1]] }),
  quarantineApprove: () => ({ approverId: 'nobody', signature: 'AAAA', expiresAt: new Date(Date.now() + 3_600_000).toISOString() }),
  servingFeedback: () => ({ items: [{ requestId: 'scope-walk-1', label: '1' }] }),
  driftSuggestionAccept: () => ({ reason: 'scope walk' }),
  driftSuggestionDismiss: () => ({ reason: 'scope walk' }),
};

const idFields = (route: RouteSpec): string[] => {
  const body = route.request?.body as z.ZodObject | undefined;
  const shape = body && 'shape' in body ? Object.keys(body.shape) : [];
  return [...(route.path.match(/\{(\w+)\}/g) ?? []), ...shape.filter((k) => /(^id$|Id$|^kid$|^model(Name)?$|^manifest$)/.test(k))];
};

const fill = (path: string, ids: Record<string, string | number>) => path.replace(/\{(\w+)\}/g, (_, k: string) => String(ids[k]));
const errorOf = (r: { status: number; body: any }) => ({ status: r.status, code: r.body?.error?.code, field: r.body?.error?.field });

describe('every route declares which model it reaches', () => {
  const routes = Object.values(ROUTES) as RouteSpec[];

  it.each(routes.map((r) => [r.id, r] as const))('%s declares its scope rule (none only without ids, or global by design)', (id, route) => {
    expect(route.scope).toBeDefined();
    if (idFields(route).length && route.scope === 'none') expect(GLOBAL_BY_DESIGN[id as RouteId]).toBeDefined();
  });

  const byId = routes.filter((r) => typeof r.scope === 'object' && (PATH_ID_SCOPES as readonly string[]).includes(r.scope.by));
  it.each(byId.map((r) => [r.id, r] as const))(
    '%s: an object outside the scope answers exactly as a missing one; inside it, the use case runs',
    async (_id, route) => {
      const ids = {
        artifactId: fraud.artifactId,
        promotionId: fraud.promotionId,
        model: fraud.model,
        version: fraud.version,
        requestId: fraud.requestId,
        runId: fraud.runId,
        reportId: fraud.reportId,
        suggestionId: fraud.suggestionId,
        // the fraud model was promoted to staging above
        env: 'staging',
      };
      const missing = {
        artifactId: randomUUID(),
        promotionId: randomUUID(),
        model: 'no-such-model',
        version: 1,
        requestId: randomUUID(),
        runId: randomUUID(),
        reportId: `rep-${randomUUID()}`,
        suggestionId: `sug-${randomUUID()}`,
        env: 'staging',
      };
      const body = BODIES[route.id as RouteId]?.();
      if (route.request?.body) expect(body).toBeDefined();
      const call = (path: string, token: string) => stack.api(route.method, path, body, { token });

      const hidden = await call(fill(route.path, ids), outOfScope);
      const absent = await call(fill(route.path, missing), outOfScope);
      expect(hidden.status).toBe(404);
      expect(errorOf(hidden)).toEqual(errorOf(absent));
      const by = (route.scope as { by: keyof typeof ids }).by;
      expect(hidden.body.error.message).toBe(absent.body.error.message.replace(String(missing[by]), String(ids[by])));
      if (by !== 'model') expect(JSON.stringify(hidden.body)).not.toContain(fraud.model);

      const seen = await call(fill(route.path, ids), inScope);
      expect(seen.status === 404 && seen.body.error.message === hidden.body.error.message).toBe(false);
    },
    60_000,
  );

  const globalOnly = routes.filter((r) => r.scope === 'global-only');
  it.each(globalOnly.map((r) => [r.id, r] as const))('%s: reaches every model, so a scoped caller is refused', async (_id, route) => {
    const path = fill(route.path, { kid: 'some-key', model: fraud.model });
    const r = await stack.api(route.method, path, route.request?.body ? {} : undefined, { token: inScope });
    expect(r.status).toBe(403);
    expect(r.body.error).toMatchObject({ code: 'FORBIDDEN', message: expect.stringContaining('needs a global one') });
  });

  it('the routes naming a model in their body and the filtered lists are the ones tested below', () => {
    const named = routes.filter((r) => typeof r.scope === 'object' && r.scope.by.startsWith('body.')).map((r) => r.id);
    expect(named.sort()).toEqual(['driftRunRequest', 'register', 'registerInline', 'uploadsCreate']);
    expect(routes.filter((r) => r.scope === 'filtered').map((r) => r.id)).toEqual([
      'uploadParts',
      'registrationGet',
      'modelsList',
      'verifyManifest',
      'driftReportsList',
      'driftSuggestionsList',
    ]);
  });
});

describe('writes naming a model', () => {
  const uploadCount = async () =>
    Number(
      (
        await stack.container.database.db
          .selectFrom('uploads')
          .select((eb) => eb.fn.countAll<string>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );

  it('refuses an upload for a model outside the scope, the same whether it exists or not, creating nothing', async () => {
    const before = await uploadCount();
    const existing = await stack.api('POST', '/v1/registry/uploads', { modelName: 'churn-model', size: 10 }, { token: fraudPublisher });
    const absent = await stack.api('POST', '/v1/registry/uploads', { modelName: 'churn-next', size: 10 }, { token: fraudPublisher });
    for (const [r, name] of [
      [existing, 'churn-model'],
      [absent, 'churn-next'],
    ] as const) {
      expect(r.status).toBe(403);
      expect(r.body.error).toMatchObject({
        code: 'FORBIDDEN',
        field: 'modelName',
        message: `modelName: model ${name} is outside the scope of fraud-ci`,
      });
    }
    // a team the caller does not hold does not bring a model into scope
    const otherTeam = await stack.api(
      'POST',
      '/v1/registry/uploads',
      { modelName: 'churn-next', size: 10, team: 'growth' },
      { token: fraudPublisher },
    );
    expect(otherTeam.status).toBe(403);
    expect(await uploadCount()).toBe(before);
  });

  it('refuses a registration naming a model outside the scope before looking at the upload', async () => {
    const bytes = randomBytes(300);
    const r = await stack.api(
      'POST',
      '/v1/registry/register',
      { uploadId: randomUUID(), manifest: manifestFor('churn-model', bytes) },
      { token: fraudPublisher },
    );
    expect(r.status).toBe(403);
    expect(r.body.error).toMatchObject({ code: 'FORBIDDEN', field: 'manifest.modelName' });
  });

  it('refuses a one-request registration naming a model outside the scope, the same whether it exists or not, writing nothing', async () => {
    const before = await uploadCount();
    for (const name of ['churn-model', 'churn-next']) {
      const bytes = randomBytes(300);
      const r = await stack.api(
        'POST',
        '/v1/registry/artifacts',
        { manifest: manifestFor(name, bytes), artifact: bytes.toString('base64'), team: 'growth' },
        { token: fraudPublisher },
      );
      expect(r.status).toBe(403);
      expect(r.body.error).toMatchObject({
        code: 'FORBIDDEN',
        field: 'manifest.modelName',
        message: `manifest.modelName: model ${name} is outside the scope of fraud-ci`,
      });
    }
    expect(await uploadCount()).toBe(before);
  });

  it('lets a team-scoped publisher create a model of its team, and a later registration naming another team is a 409 on team', async () => {
    const first = await uploadAndRegister(stack, 'risk-ranker', randomBytes(500), { token: fraudPublisher, team: 'fraud' });
    expect(first.status).toBe(201);
    await expect(uploadAndRegister(stack, 'risk-ranker-2', randomBytes(500), { token: fraudPublisher })).rejects.toThrow(/403/);
    const again = await uploadAndRegister(stack, 'risk-ranker', randomBytes(500), { token: fraudPublisher, team: 'growth' });
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({ code: 'CONFLICT', field: 'team', message: expect.stringContaining('belongs to team fraud') });
    const same = await uploadAndRegister(stack, 'risk-ranker', randomBytes(500), { token: fraudPublisher, team: 'fraud' });
    expect(same.status).toBe(201);
    expect(same.body.version).toBe(2);
  });
});

describe("a multipart upload's parts", () => {
  it('are seen by the scoped publisher that created it, and by no other scoped caller, admins included (404)', async () => {
    const up = await stack.api(
      'POST',
      '/v1/registry/uploads',
      { modelName: 'fraud-big', size: 6 * 1024 * 1024, team: 'fraud', multipart: true },
      { token: fraudPublisher },
    );
    expect(up.status).toBe(201);
    const ask = (token: string) => stack.api('POST', `/v1/registry/uploads/${up.body.uploadId}/parts`, { parts: [] }, { token });
    expect((await ask(fraudPublisher)).status).toBe(200);
    for (const token of [inScope, outOfScope]) {
      const r = await ask(token);
      expect(r.status).toBe(404);
      expect(r.body.error).toMatchObject({ code: 'UPLOAD_NOT_FOUND', field: 'uploadId' });
    }
    expect((await ask(stack.adminToken)).status).toBe(200);
  });
});

describe('lists and verification see only the scope', () => {
  const names = async (token: string, query = 'limit=50') =>
    (await stack.api('GET', `/v1/registry/models?${query}`, undefined, { token })).body.items.map((m: { name: string }) => m.name);

  it('lists the models of the caller scope only: by team, by prefix, or all for a global caller', async () => {
    expect(await names(inScope)).toEqual(['fraud-scorer', 'risk-ranker']);
    expect(await names(outOfScope)).toEqual([]);
    const churn = await tokenFor('churn-auditor', 'auditor', { prefixes: ['churn-'] });
    expect(await names(churn)).toEqual(['churn-baseline', 'churn-model']);
    expect(await names(stack.adminToken)).toEqual(['churn-baseline', 'churn-model', 'fraud-scorer', 'risk-ranker']);
  });

  it('pages through the scoped list without a cursor ever naming a model outside it', async () => {
    const page1 = (await stack.api('GET', '/v1/registry/models?limit=1', undefined, { token: inScope })).body;
    expect(page1.items.map((m: { name: string }) => m.name)).toEqual(['fraud-scorer']);
    const page2 = (await stack.api('GET', `/v1/registry/models?limit=1&cursor=${page1.nextCursor}`, undefined, { token: inScope })).body;
    expect(page2.items.map((m: { name: string }) => m.name)).toEqual(['risk-ranker']);
    expect(page2.nextCursor).toBeNull();
  });

  it('verifies a manifest of an artifact outside the scope as if it were not registered', async () => {
    const manifest = (await stack.api('GET', `/v1/artifacts/${fraud.artifactId}`)).body.manifest;
    const seen = await stack.api('POST', '/v1/registry/verify-manifest', { manifest }, { token: inScope });
    expect(seen.body).toMatchObject({ ok: true, artifactId: fraud.artifactId });
    const hidden = await stack.api('POST', '/v1/registry/verify-manifest', { manifest }, { token: outOfScope });
    expect(hidden.body.ok).toBe(false);
    expect(hidden.body.checks).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          check: 'signature',
          reason: 'no signature was given and no registered artifact matches manifest.artifactId',
        }),
      ]),
    );
  });
});

describe('team labels', () => {
  it('an admin changes a team, audited, and the change moves the model in or out of a scope at once', async () => {
    const set = await stack.api('PUT', '/v1/registry/models/churn-baseline/team', { team: 'fraud' });
    expect(set).toMatchObject({ status: 200, body: { name: 'churn-baseline', team: 'fraud', previous: null } });
    expect((await stack.api('GET', '/v1/registry/models/churn-baseline/versions', undefined, { token: inScope })).status).toBe(200);
    const cleared = await stack.api('PUT', '/v1/registry/models/churn-baseline/team', { team: null });
    expect(cleared.body).toMatchObject({ team: null, previous: 'fraud' });
    expect((await stack.api('GET', '/v1/registry/models/churn-baseline/versions', undefined, { token: inScope })).status).toBe(404);
    const events = (await stack.api('GET', '/v1/audit?type=model.team.set&limit=50')).body.items;
    expect(events.map((e: any) => e.payload)).toEqual(
      expect.arrayContaining([
        { model: 'fraud-scorer', team: 'fraud', previous: null },
        { model: 'churn-baseline', team: 'fraud', previous: null },
        { model: 'churn-baseline', team: null, previous: 'fraud' },
      ]),
    );
  });

  it('refuses a team change of a missing model (404 on model) and a bad label (400 on team)', async () => {
    const missing = await stack.api('PUT', '/v1/registry/models/no-such-model/team', { team: 'fraud' });
    expect(missing.status).toBe(404);
    expect(missing.body.error.field).toBe('model');
    const bad = await stack.api('PUT', '/v1/registry/models/fraud-scorer/team', { team: 'Fraud Team' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe('team');
  });

  it('refuses a token scope that names nothing, and a bad prefix, naming the field', async () => {
    const empty = await stack.api('POST', '/v1/tokens', { principal: 'x', role: 'publisher', scope: {} });
    expect(empty.status).toBe(400);
    expect(empty.body.error.field).toBe('scope');
    const bad = await stack.api('POST', '/v1/tokens', { principal: 'x', role: 'publisher', scope: { prefixes: ['Fraud/'] } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe('scope.prefixes.0');
  });
});
