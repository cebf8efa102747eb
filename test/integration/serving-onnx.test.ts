/**
 * @jest-environment <rootDir>/test/support/native-environment.cjs
 *
 * An ONNX artifact served end to end on the local stack (the native runtime needs the suite
 * environment above): a packed `model.onnx` + `serving.json` registered, promoted and answering
 * the fixture's reference predictions over HTTP; an ONNX artifact its runtime refuses (a ZipMap
 * output) never answers.
 */
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packDirectory } from '../../lib/clients/training/pack.js';
import { startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';
import { settled } from '../promotion/support.js';

const FIXTURE = join(process.cwd(), 'test/fixtures/onnx/classifier');
const reference = JSON.parse(await readFile(`${FIXTURE}.reference.json`, 'utf8')) as {
  tolerance: number;
  rows: number[][];
  predictions: { label: string; probabilities: Record<string, number> }[];
};
const serving = JSON.parse(await readFile(join(FIXTURE, 'serving.json'), 'utf8')) as { inputs: { features: string[] } };

let stack: Stack;
let work: string;
let invoker: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'aegis-serving-onnx-'));
  stack = await startStack();
  invoker = (await stack.api('POST', '/v1/tokens', { principal: 'scoring-app', role: 'invoker' })).body.token;
});
afterAll(async () => {
  await stack?.stop();
  await rm(work, { recursive: true, force: true });
});

/** `model.onnx` and its `serving.json`, packed as `aegis train --record` packs a folder. */
async function packedOnnx(name: string, modelFile: string, servingJson: unknown): Promise<Buffer> {
  const dir = join(work, name);
  await mkdir(dir, { recursive: true });
  await copyFile(modelFile, join(dir, 'model.onnx'));
  await writeFile(join(dir, 'serving.json'), JSON.stringify(servingJson));
  await packDirectory(dir, join(work, `${name}.tar.gz`));
  return readFile(join(work, `${name}.tar.gz`));
}

async function servedInStaging(model: string, bytes: Buffer): Promise<string> {
  const r = await uploadAndRegister(stack, model, bytes);
  expect(r.status).toBe(201);
  const artifactId = r.body.artifactId as string;
  const p = await stack.api('POST', `/v1/registry/${artifactId}/promote`, { targetEnv: 'staging', reason: 'onnx' });
  expect(p.status).toBe(201);
  expect((await settled(stack, p.body.promotionId as string, 30_000)).status).toBe('succeeded');
  return artifactId;
}

const predict = (model: string, inputs: unknown[]) =>
  fetch(`${stack.url}/v1/serving/${model}/staging/predict`, {
    method: 'POST',
    headers: { authorization: `Bearer ${invoker}`, 'content-type': 'application/json' },
    body: JSON.stringify({ inputs }),
  }).then(async (r) => ({ status: r.status, headers: r.headers, body: (await r.json()) as any }));

it('serves an ONNX classifier: the reference predictions, rows by name or in order, the artifact named', async () => {
  const artifactId = await servedInStaging('onnx-churn', await packedOnnx('classifier', join(FIXTURE, 'model.onnx'), serving));
  const byName = reference.rows.map((row) => Object.fromEntries(serving.inputs.features.map((f, j) => [f, row[j]])));
  for (const inputs of [reference.rows, byName]) {
    const r = await predict('onnx-churn', inputs);
    expect(r.status).toBe(200);
    expect(r.headers.get('x-aegis-artifact-id')).toBe(artifactId);
    const got = r.body.predictions as { label: string; probabilities: Record<string, number> }[];
    expect(got.map((p) => p.label)).toEqual(reference.predictions.map((p) => p.label));
    got.forEach((p, i) => {
      for (const [c, want] of Object.entries(reference.predictions[i]!.probabilities))
        expect(Math.abs(p.probabilities[c]! - want)).toBeLessThanOrEqual(reference.tolerance);
    });
  }
  const verified = (await stack.api('GET', `/v1/audit?type=serving.verified&subject=artifact:${artifactId}`)).body.items;
  expect(verified.map((e: { payload: { format: string } }) => e.payload.format)).toEqual(['onnx']);
  // a row of the wrong width is the caller's error, naming it, not a model error
  const bad = await predict('onnx-churn', [[1, 2, 3]]);
  expect(bad.status).toBe(400);
  expect(bad.body.error.field).toBe('inputs[0]');
});

it('never answers with an ONNX model its runtime refuses (a ZipMap output): 503 and one serving.refused', async () => {
  const artifactId = await servedInStaging(
    'onnx-zipmap',
    await packedOnnx('zipmap', join(FIXTURE, '../refused/zipmap.onnx'), {
      format: 'onnx',
      inputs: { name: 'x', features: ['a', 'b'] },
      outputs: { label: 'label', probabilities: 'probabilities' },
      classes: ['0', '1'],
    }),
  );
  for (let i = 0; i < 2; i++) {
    const r = await predict('onnx-zipmap', [[1, 2]]);
    expect(r.status).toBe(503);
    // it verified (signed bytes) but does not load: serving.json names an output that is no tensor
    expect(r.body.error.code).toBe('ARTIFACT_UNLOADABLE');
    expect(r.body.predictions).toBeUndefined();
  }
  const refused = (await stack.api('GET', `/v1/audit?type=serving.refused&subject=artifact:${artifactId}`)).body.items;
  expect(refused).toHaveLength(1);
  expect(refused[0].payload.reason).toMatch(/zipmap=False/);
});
