/**
 * `GET /v1/registry/models`: the search (`q`, a part of the name, any case; bad input named) and,
 * per model, what serves it in each environment (the rollout's routes, with the versions).
 */
import { randomBytes } from 'node:crypto';
import { startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';
import { settled } from '../promotion/support.js';

let s: Stack;
const ids: Record<string, string> = {};
beforeAll(async () => {
  s = await startStack();
  for (const [key, model] of [
    ['fraud1', 'fraud-detector'],
    ['fraud2', 'fraud-detector'],
    ['churn1', 'churn-model'],
    ['under1', 'under_score'],
  ] as const) {
    const r = await uploadAndRegister(s, model, randomBytes(64));
    expect(r.status).toBe(201);
    ids[key] = r.body.artifactId;
  }
}, 60_000);
afterAll(async () => {
  await s?.stop();
});

const names = async (query: string) =>
  ((await s.api('GET', `/v1/registry/models${query}`)).body.items as { name: string }[]).map((m) => m.name);

test('q lists only the models whose name contains it, in any case; `_` is a character, not a wildcard', async () => {
  expect(await names('?q=DETECT')).toEqual(['fraud-detector']);
  expect(await names('?q=-')).toEqual(['churn-model', 'fraud-detector']);
  expect(await names('?q=_')).toEqual(['under_score']);
  expect(await names('?q=nothing-like-it')).toEqual([]);
  expect(await names('')).toEqual(['churn-model', 'fraud-detector', 'under_score']);
  // q with pagination: the cursor continues within the matches
  const first = (await s.api('GET', '/v1/registry/models?q=e&limit=1')).body;
  expect(first.items.map((m: { name: string }) => m.name)).toEqual(['churn-model']);
  expect(await names(`?q=e&limit=5&cursor=${first.nextCursor}`)).toEqual(['fraud-detector', 'under_score']);
});

test.each([
  ['?q=', 'query.q'],
  ['?q=a%20b', 'query.q'],
  ['?q=%25', 'query.q'],
  [`?q=${'a'.repeat(129)}`, 'query.q'],
  ['?query=x', 'query.query'],
])('refuses %s with 400 naming the field', async (query, field) => {
  const r = await s.api('GET', `/v1/registry/models${query}`);
  expect(r.status).toBe(400);
  expect(r.body.error.code).toBe('VALIDATION_FAILED');
  expect(r.body.error.field).toBe(field);
});

test('each model lists what serves it per environment: the stable with its version, a canary with its share', async () => {
  const before = (await s.api('GET', '/v1/registry/models?q=fraud')).body.items[0];
  expect(before.environments).toEqual([]);
  const p = await s.api('POST', `/v1/artifacts/${ids.fraud1}/promote`, { targetEnv: 'staging', reason: 'test' });
  expect(p.status).toBe(201);
  expect((await settled(s, p.body.promotionId)).status).toBe('succeeded');
  // a canary under way in prod (the rollout's route as a canary step leaves it)
  await s.container.database.db
    .insertInto('routes')
    .values({
      model_name: 'fraud-detector',
      env: 'prod',
      stable_artifact_id: ids.fraud1!,
      canary_artifact_id: ids.fraud2!,
      canary_percent: 25,
      promotion_id: null,
      updated_at: new Date(),
    })
    .execute();
  const items = (await s.api('GET', '/v1/registry/models')).body.items;
  const fraud = items.find((m: { name: string }) => m.name === 'fraud-detector');
  expect(fraud.environments).toEqual([
    { env: 'prod', variant: 'stable', artifactId: ids.fraud1, version: 1, traffic: 75, promotionId: null },
    { env: 'prod', variant: 'canary', artifactId: ids.fraud2, version: 2, traffic: 25, promotionId: null },
    { env: 'staging', variant: 'stable', artifactId: ids.fraud1, version: 1, traffic: 100, promotionId: p.body.promotionId },
  ]);
  expect(items.find((m: { name: string }) => m.name === 'churn-model').environments).toEqual([]);
}, 30_000);
