import { multipartPlan, planPartSize, uploadPlan } from '../../lib/modules/registry/domain.js';
import { MULTIPART_LIMITS } from '../../lib/platform/ports/object-store.js';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

describe('the multipart plan of an upload', () => {
  it('cuts an upload into parts of the configured size, the last one shorter', () => {
    const plan = multipartPlan(200 * MIB + 7, 64 * MIB);
    expect(plan).toEqual({ partSize: 64 * MIB, partCount: 4 });
    expect([1, 2, 3, 4].map((n) => planPartSize(plan, 200 * MIB + 7, n))).toEqual([64 * MIB, 64 * MIB, 64 * MIB, 8 * MIB + 7]);
  });

  it('takes larger parts (whole MiB) when the configured size would need more than 10,000 parts', () => {
    const plan = multipartPlan(50 * GIB, 5 * MIB);
    expect(plan).toEqual({ partSize: 6 * MIB, partCount: Math.ceil((50 * GIB) / (6 * MIB)) });
    expect(plan.partCount).toBeLessThanOrEqual(MULTIPART_LIMITS.maxParts);
    expect(multipartPlan(50 * GIB, 64 * MIB)).toEqual({ partSize: 64 * MIB, partCount: 800 });
  });

  it('never goes below S3 minimum part size, and an upload smaller than a part is one part', () => {
    expect(multipartPlan(10, 1)).toEqual({ partSize: MULTIPART_LIMITS.minPartBytes, partCount: 1 });
    expect(planPartSize(multipartPlan(10, 1), 10, 1)).toBe(10);
    expect(multipartPlan(5 * MIB, 5 * MIB)).toEqual({ partSize: 5 * MIB, partCount: 1 });
  });

  it('cuts an upload by the part size it stored, the setting only for one that stored none', () => {
    expect(uploadPlan({ maxSize: 12 * MIB, partBytes: 5 * MIB }, 6 * MIB)).toEqual({ partSize: 5 * MIB, partCount: 3 });
    expect(uploadPlan({ maxSize: 12 * MIB, partBytes: null }, 6 * MIB)).toEqual({ partSize: 6 * MIB, partCount: 2 });
  });

  it('gives the same plan again when cut by its own part size (what an upload stores)', () => {
    for (const [size, partBytes] of [
      [200 * MIB + 7, 64 * MIB],
      [50 * GIB, 5 * MIB],
      [10, 1],
      [5 * 1024 * GIB, 5 * MIB],
    ] as const) {
      const plan = multipartPlan(size, partBytes);
      expect(multipartPlan(size, plan.partSize)).toEqual(plan);
    }
  });
});
