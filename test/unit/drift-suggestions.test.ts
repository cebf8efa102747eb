/** The pure rules of drift records: a report's reasons, the allowed transitions, decisions, cursors and limits. */
import type { WindowReport } from '../../lib/modules/drift/detect.js';
import { SUGGESTION_STATUSES } from '../../lib/modules/drift/records.js';
import { assertTransition, checkLimit, decision, decodeCursor, encodeCursor, reasonsOf } from '../../lib/modules/drift/suggestions.js';

const base = {
  verdict: 'drift',
  datasetDrift: false,
  driftedShare: 0,
  features: [],
  options: { driftShare: 0.5, missingRateChange: 0.1 },
  performance: { status: 'ok', labelled: 500, regression: false, tolerance: 0.02 },
} as unknown as WindowReport;

describe('drift suggestion rules', () => {
  it('gives the label, prediction and performance checks as reasons when only they drift', () => {
    const r = {
      ...base,
      label: { js: 0.08, threshold: 0.05, drift: true },
      predictions: { js: 0.02, threshold: 0.1, drift: false },
      performance: { ...base.performance, accuracy: 0.8, holdoutAccuracy: 0.9, regression: true },
    } as unknown as WindowReport;
    expect(reasonsOf(r)).toEqual([
      { detector: 'label', metric: 'js', value: 0.08, threshold: 0.05 },
      { detector: 'performance', metric: 'accuracy', value: 0.8, threshold: 0.9 - 0.02 },
    ]);
    expect(reasonsOf({ ...r, verdict: 'no-drift' } as WindowReport)).toEqual([]);
  });

  it('allows exactly the transitions of SUGGESTION_TRANSITIONS, refusing the others naming status', () => {
    const allowed: string[] = [];
    for (const from of SUGGESTION_STATUSES)
      for (const to of SUGGESTION_STATUSES) {
        try {
          assertTransition('s', from, to);
          allowed.push(`${from}>${to}`);
        } catch (e) {
          expect(e).toMatchObject({ code: 'CONFLICT', field: 'status', details: { status: from, requested: to } });
        }
      }
    expect(allowed.sort()).toEqual(['accepted>dismissed', 'accepted>resolved', 'open>accepted', 'open>dismissed', 'open>resolved']);
  });

  it('requires a reason and a known decision', () => {
    expect(decision('accept', ' why ')).toEqual({ status: 'accepted', reason: 'why' });
    expect(() => decision('dismiss', '')).toThrow(expect.objectContaining({ field: 'reason' }));
    expect(() => decision('maybe' as 'accept', 'x')).toThrow(expect.objectContaining({ field: 'decision' }));
  });

  it('round-trips its cursors and names a foreign one or a bad limit', () => {
    const at = '2026-11-30T10:00:00.000Z';
    expect(decodeCursor(encodeCursor(at, 'rep-1'))).toEqual({ at: new Date(at), id: 'rep-1' });
    expect(decodeCursor(undefined)).toBeUndefined();
    for (const bad of ['x', Buffer.from('[1,2]').toString('base64url'), Buffer.from('["nope","a"]').toString('base64url')])
      expect(() => decodeCursor(bad)).toThrow(expect.objectContaining({ field: 'cursor' }));
    expect(checkLimit(500)).toBe(500);
    for (const bad of [0, 501, 1.5]) expect(() => checkLimit(bad)).toThrow(expect.objectContaining({ field: 'limit' }));
  });
});
