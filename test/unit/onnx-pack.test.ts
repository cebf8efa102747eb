/**
 * @jest-environment <rootDir>/test/support/native-environment.cjs
 *
 * How a user ships an ONNX model: a folder with `model.onnx` and `serving.json`, packed by the
 * same deterministic packer `aegis train --record` uses (lib/clients/training/pack.ts). The
 * archive must unpack, in memory, into exactly the folder's files, which the ONNX runtime then
 * accepts and answers with.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'fflate';
import { extract } from 'tar-stream';
import { packDirectory } from '../../lib/clients/training/pack.js';
import { OnnxModelRuntime } from '../../lib/platform/adapters/model-runtime/onnx.js';
import type { Prediction } from '../../lib/platform/ports/model-runtime.js';

const FIXTURE = 'test/fixtures/onnx/classifier';

/** A `.tar.gz` → path → bytes, regular files only (directories carry no bytes). */
async function unpack(archive: Uint8Array): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  const tar = extract();
  const done = (async () => {
    for await (const entry of tar) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      if (entry.header.type === 'file') files.set(entry.header.name.replace(/^\.\//, ''), new Uint8Array(Buffer.concat(chunks)));
    }
  })();
  Readable.from([Buffer.from(gunzipSync(archive))]).pipe(tar);
  await done;
  return files;
}

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'aegis-onnx-pack-'));
});
afterAll(() => rm(work, { recursive: true, force: true }));

describe('a packed ONNX model folder', () => {
  it('unpacks into exactly the folder files, byte for byte', async () => {
    const out = join(work, 'a.tar.gz');
    const packed = await packDirectory(FIXTURE, out);
    const archive = await readFile(out);
    expect(createHash('sha256').update(archive).digest('hex')).toBe(packed.sha256);
    const files = await unpack(archive);
    const names = (await readdir(FIXTURE)).sort();
    expect([...files.keys()].sort()).toEqual(names);
    expect(names).toEqual(['model.onnx', 'serving.json']);
    for (const name of names) expect(Buffer.from(files.get(name)!).equals(await readFile(join(FIXTURE, name)))).toBe(true);
  });

  it('packs to the same bytes every time', async () => {
    const [a, b] = [await packDirectory(FIXTURE, join(work, 'b1.tar.gz')), await packDirectory(FIXTURE, join(work, 'b2.tar.gz'))];
    expect(a.sha256).toBe(b.sha256);
  });

  it('is accepted by the ONNX runtime once unpacked, and answers the reference predictions', async () => {
    const out = join(work, 'c.tar.gz');
    await packDirectory(FIXTURE, out);
    const files = await unpack(await readFile(out));
    const runtime = new OnnxModelRuntime();
    expect(runtime.accepts(files)).toBe(true);
    const reference = JSON.parse(await readFile(`${FIXTURE}.reference.json`, 'utf8')) as { rows: number[][]; predictions: Prediction[] };
    const model = await runtime.load(files);
    try {
      const got = await model.predict(reference.rows);
      expect(got.map((p) => p.label)).toEqual(reference.predictions.map((p) => p.label));
      got.forEach((p, i) => {
        for (const [c, v] of Object.entries(reference.predictions[i]!.probabilities!)) expect(p.probabilities![c]).toBeCloseTo(v, 6);
      });
    } finally {
      await model.close();
    }
  });
});
