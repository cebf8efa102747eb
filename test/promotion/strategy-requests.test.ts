/**
 * How a promotion asks for its strategy over HTTP (issue 19): the body's `strategy`, `shadow`
 * and `blueGreen`, refused with a 400 naming the field, and stored with the defaults applied.
 */
import { randomBytes } from 'node:crypto';
import { startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';
import { ScriptedJudge } from './support.js';

let stack: Stack;
let artifactId: string;

beforeAll(async () => {
  stack = await startStack({}, { judge: new ScriptedJudge(), waitMs: 5 });
  // a first artifact serves the canary environment: a shadow has answers to be compared with
  const base = (await uploadAndRegister(stack, 'ranker', randomBytes(600))).body.artifactId;
  const first = await stack.api('POST', `/v1/artifacts/${base}/promote`, { targetEnv: 'canary', reason: 'base', canary: { steps: 0 } });
  for (let i = 0; i < 500 && (await stack.api('GET', `/v1/promotions/${first.body.promotionId}`)).body.status !== 'succeeded'; i++)
    await new Promise((r) => setTimeout(r, 20));
  artifactId = (await uploadAndRegister(stack, 'ranker', randomBytes(600))).body.artifactId;
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

const promote = (body: Record<string, unknown>) =>
  stack.api('POST', `/v1/artifacts/${artifactId}/promote`, { targetEnv: 'canary', reason: 'strategies', ...body });

describe('PromoteBody strategy settings', () => {
  it.each([
    [{ strategy: 'canary', shadow: { percent: 10 } }, 'shadow', /shadow: settings of strategy shadow, but the strategy is canary/],
    [{ shadow: { windows: 2 } }, 'shadow', /but the strategy is canary/],
    [{ strategy: 'shadow', blueGreen: { holdSeconds: 60 } }, 'blueGreen', /settings of strategy blue-green, but the strategy is shadow/],
    [{ strategy: 'mirror' }, 'strategy', /strategy: /],
    [{ strategy: 'shadow', shadow: { minAgreement: 2 } }, 'shadow.minAgreement', /shadow.minAgreement: /],
    [{ strategy: 'shadow', shadow: { percent: 0 } }, 'shadow.percent', /shadow.percent: /],
    [{ strategy: 'shadow', shadow: { then: 'later' } }, 'shadow.then', /shadow.then: /],
    [{ strategy: 'shadow', shadow: { sample: 5 } }, 'shadow.sample', /unknown field sample/],
    [{ strategy: 'blue-green', blueGreen: { warmUpRequests: 0 } }, 'blueGreen.warmUpRequests', /blueGreen.warmUpRequests: /],
    [{ strategy: 'blue-green', blueGreen: { holdSeconds: -1 } }, 'blueGreen.holdSeconds', /blueGreen.holdSeconds: /],
  ])('refuses %j with a 400 naming %s', async (body, field, message) => {
    const res = await promote(body);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'VALIDATION_FAILED', field });
    expect(res.body.error.message).toMatch(message);
  });

  it('stores a shadow with its settings over the defaults, and shows them in the promotion', async () => {
    const res = await promote({ strategy: 'shadow', shadow: { percent: 25, minAgreement: 0.95 } });
    expect(res.status).toBe(201);
    expect(res.body.canary).toMatchObject({ strategy: 'shadow', shadow: { percent: 25, windows: 1, minAgreement: 0.95, then: 'canary' } });
    expect(res.body.canary.blueGreen).toBeUndefined();
    const shown = (await stack.api('GET', `/v1/promotions/${res.body.promotionId}`)).body;
    expect(shown.canary).toEqual(res.body.canary);
  });
});
