/**
 * The pure half of `aegis drift sample` (lib/clients/cli/drift-sample-streams.ts): the shift
 * option, the streams (seeded, drawn from the sample, one feature moved), how they become
 * requests, and the drill's verdict. The streams are also run through the kernel's detectors
 * against the baseline the built-in trainer writes for the sample: the baseline-like stream
 * does not drift, the shifted one does, on the shifted feature.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CliError } from '../../lib/clients/cli/context.js';
import {
  drawStream,
  featureSd,
  judgeDrill,
  parseShift,
  readSampleTable,
  toRequests,
  type WindowResult,
} from '../../lib/clients/cli/drift-sample-streams.js';
import { runBuiltinTrainer } from '../../lib/clients/training/builtin-trainer.js';
import { readBaseline } from '../../lib/kernel/baseline-profile.js';
import { detectDrift } from '../../lib/kernel/drift/decide.js';
import { windowAccumulator } from '../../lib/kernel/drift/window-build.js';
import { predictProba, standardise } from '../../lib/kernel/logistic.js';
import type { DriftReportRecord, DriftRun, RetrainSuggestion } from '../../lib/modules/drift/records.js';

const SAMPLE = join(process.cwd(), 'test/data/sample');
const table = readSampleTable(SAMPLE);

const usage = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(CliError);
    expect((e as CliError).exitCode).toBe(2);
    return (e as Error).message;
  }
  throw new Error('expected a usage error');
};

describe('the shift option', () => {
  it('defaults to the first numeric feature, +1.5 sd', () => {
    expect(table.features[0]).toBe('age');
    expect(parseShift(undefined, table)).toEqual({ feature: 'age', sds: 1.5 });
  });

  it('reads FEATURE=±Ksd', () => {
    expect(parseShift('income=-2sd', table)).toEqual({ feature: 'income', sds: -2 });
    expect(parseShift('ratio=+.5sd', table)).toEqual({ feature: 'ratio', sds: 0.5 });
  });

  it('refuses a malformed shift, an unknown feature and a zero shift, naming --shift', () => {
    expect(usage(() => parseShift('age+1.5', table))).toMatch(/^--shift age\+1\.5: expected FEATURE=\+Ksd/);
    expect(usage(() => parseShift('height=+1sd', table))).toMatch(/"height" is not a feature of .*age, income, ratio, weak_signal, noise/);
    expect(usage(() => parseShift('label=+1sd', table))).toMatch(/"label" is not a feature/);
    expect(usage(() => parseShift('age=0sd', table))).toMatch(/0 sd is no drift/);
  });
});

describe('the streams', () => {
  it('are the same rows for the same seed and other rows for another', () => {
    const a = drawStream(table, 500, 7);
    expect(drawStream(table, 500, 7)).toEqual(a);
    expect(drawStream(table, 500, 8)).not.toEqual(a);
    expect(a.every((r) => table.rows.some((t) => t.label === r.label && Number(t.cells[0]) === r.inputs.age))).toBe(true);
  });

  it('shift only the named feature, by K of its standard deviations', () => {
    const plain = drawStream(table, 200, 11);
    const shifted = drawStream(table, 200, 11, { feature: 'income', sds: 2 });
    const sd = featureSd(table, 'income');
    expect(sd).toBeGreaterThan(13_000);
    expect(sd).toBeLessThan(17_000);
    shifted.forEach((r, i) => {
      expect(r.inputs.income as number).toBeCloseTo((plain[i]!.inputs.income as number) + 2 * sd, 6);
      expect({ ...r.inputs, income: 0 }).toEqual({ ...plain[i]!.inputs, income: 0 });
      expect(r.label).toBe(plain[i]!.label);
    });
  });

  it('become single labelled requests first, then batches of the rest', () => {
    const stream = drawStream(table, 23, 1);
    const reqs = toRequests(stream, { batch: 5, labelled: 3 });
    expect(reqs.map((r) => [r.rows.length, r.labelled])).toEqual([
      [1, true],
      [1, true],
      [1, true],
      [5, false],
      [5, false],
      [5, false],
      [5, false],
    ]);
    expect(reqs.flatMap((r) => r.rows)).toEqual(stream);
  });
});

describe('the streams through the detectors, against the sample model’s baseline', () => {
  let work: string;
  let baseline: ReturnType<typeof readBaseline>;
  let model: {
    features: string[];
    classes: string[];
    weights: number[][];
    bias: number[];
    standardisation: { mean: number[]; std: number[] };
  };
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'aegis-drift-sample-'));
    await runBuiltinTrainer({ datasets: [{ id: 'sample', path: SAMPLE }], outDir: work, seed: 7, hyperparams: {} });
    baseline = readBaseline(JSON.parse(await readFile(join(work, 'baseline.json'), 'utf8')));
    model = JSON.parse(await readFile(join(work, 'model.json'), 'utf8'));
  }, 60_000);
  afterAll(() => rm(work, { recursive: true, force: true }));

  /** The window as serving would count it: every row with the model's prediction, the first 300 labelled (as the drill sends them). */
  const judge = (rows: ReturnType<typeof drawStream>) => {
    const x = rows.map((r) => model.features.map((f) => r.inputs[f] as number));
    const proba = predictProba(
      { classCount: model.classes.length, weights: model.weights, bias: model.bias },
      standardise(x, model.standardisation),
    );
    const acc = windowAccumulator(baseline);
    rows.forEach((r, i) =>
      acc.add({
        features: Object.fromEntries(Object.entries(r.inputs).map(([k, v]) => [k, String(v)])),
        label: i < 300 ? r.label : undefined,
        predicted: model.classes[proba[i]![1]! > proba[i]![0]! ? 1 : 0],
        score: proba[i]![1]!,
      }),
    );
    return detectDrift(baseline, acc.profile(), {});
  };

  it('the baseline-like stream of 3000 rows drifts nowhere: features, labels, predictions, performance', () => {
    const r = judge(drawStream(table, 3000, 7));
    expect(r.verdict).toBe('no-drift');
    expect(r.features.filter((f) => f.drift)).toEqual([]);
    expect(r.label?.drift).toBe(false);
    expect(r.predictions?.drift).toBe(false);
    expect(r.performance).toMatchObject({ status: 'ok', labelled: 300, regression: false });
  });

  it('age shifted by +1.5 sd drifts on age alone among the features, and moves the predictions and accuracy', () => {
    const r = judge(drawStream(table, 3000, (7 ^ 0x9e3779b9) >>> 0, parseShift(undefined, table)));
    expect(r.verdict).toBe('drift');
    expect(r.features.filter((f) => f.drift).map((f) => f.feature)).toEqual(['age']);
    expect(r.label?.drift).toBe(false);
    expect(r.predictions?.drift).toBe(true);
    expect(r.performance).toMatchObject({ status: 'ok', regression: true });
  });
});

describe('the drill verdict', () => {
  const run = (over: Partial<DriftRun> = {}): DriftRun => ({
    runId: 'run-1',
    model: 'drift-sample',
    env: 'staging',
    artifactId: 'art-1',
    from: '2026-01-01T00:00:00.000Z',
    to: '2026-01-01T00:01:00.000Z',
    trigger: 'request',
    requestedBy: 'admin',
    status: 'succeeded',
    shards: 1,
    reportId: 'rep-1',
    error: null,
    createdAt: '2026-01-01T00:01:00.000Z',
    finishedAt: '2026-01-01T00:01:01.000Z',
    ...over,
  });
  const record = (suggestionId: string | null, verdict: DriftReportRecord['verdict']): DriftReportRecord =>
    ({
      reportId: `rep-${suggestionId ?? 'none'}`,
      verdict,
      suggestionId,
      summary: { reasons: verdict === 'drift' ? [{ detector: 'feature', feature: 'age', metric: 'js', value: 0.31, threshold: 0.1 }] : [] },
    }) as DriftReportRecord;
  const w = (name: WindowResult['name'], r: DriftReportRecord | undefined, over: Partial<DriftRun> = {}): WindowResult => ({
    name,
    run: run(over),
    record: r,
  });
  const s = (id: string) => ({ suggestionId: id }) as RetrainSuggestion;

  it('holds when only the drifted window raised a suggestion, the only one of the artifact', () => {
    expect(judgeDrill(w('baseline-like', record(null, 'no-drift')), w('drifted', record('s1', 'drift')), [s('s1')])).toEqual({
      ok: true,
      problems: [],
    });
  });

  it('names a suggestion from the baseline-like window, a drifted window without one, and a count other than one', () => {
    const v = judgeDrill(w('baseline-like', record('s0', 'drift')), w('drifted', record(null, 'no-drift')), [s('s0'), s('s9')]);
    expect(v.ok).toBe(false);
    expect(v.problems).toEqual([
      'the baseline-like window raised suggestion s0 (verdict drift; feature age js 0.3100 (threshold 0.1000))',
      'the drifted window raised no suggestion (verdict no-drift; no reasons)',
      '2 suggestions name the serving artifact, expected exactly 1 (s0, s9)',
    ]);
  });

  it('names a failed or report-less run', () => {
    const v = judgeDrill(
      w('baseline-like', undefined, { status: 'failed', error: 'CountShard: boom' }),
      w('drifted', undefined, { status: 'skipped', reportId: null }),
      [],
    );
    expect(v.problems).toEqual(['the baseline-like run run-1 ended failed: CountShard: boom', 'the drifted run run-1 ended skipped']);
  });

  it('names a drifted report pointing at another suggestion than the artifact’s', () => {
    const v = judgeDrill(w('baseline-like', record(null, 'no-drift')), w('drifted', record('s1', 'drift')), [s('s2')]);
    expect(v.problems).toEqual(["the drifted report names suggestion s1, the artifact's is s2"]);
  });
});
