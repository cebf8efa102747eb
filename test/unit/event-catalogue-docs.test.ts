/**
 * The README's event catalogue (scripts/event-catalogue-docs.ts, written by `npm run docs:events`):
 * it matches EVENT_CATALOGUE, every zod kind the catalogue uses renders as words, and the
 * `--check` run fails on a stale block.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as z from 'zod';
import { EVENT_CATALOGUE } from '../../lib/modules/catalogue.js';
import { Int, Iso, Sha, Text, type EventCatalogue } from '../../lib/platform/audit/catalogue.js';
import {
  END_MARKER,
  START_MARKER,
  fieldDoc,
  groupByArea,
  renderCatalogue,
  renderEvent,
  replaceBlock,
} from '../../scripts/event-catalogue-docs.js';

const REPO = process.cwd();
const README = readFileSync(join(REPO, 'README.md'), 'utf8');

/** Renders one payload schema's field lines, collecting the kinds it did not know. */
function render(schema: z.ZodType) {
  const unknown: string[] = [];
  const text = renderEvent('test.event', { schema, restore: { notRestored: 'a test' } }, (kind, path) => unknown.push(`${path}: ${kind}`));
  return { lines: text.split('\n').slice(2), unknown };
}

describe('the README event catalogue', () => {
  test('equals what the catalogue renders (run `npm run docs:events` after changing an events.ts)', () => {
    const expected = replaceBlock(README, renderCatalogue(EVENT_CATALOGUE));
    if (expected !== README) {
      const have = README.split('\n');
      const want = expected.split('\n');
      const at = Array.from({ length: Math.max(have.length, want.length) }, (_, i) => i).find((i) => have[i] !== want[i])!;
      throw new Error(
        `README.md's event catalogue is stale: run \`npm run docs:events\`. First difference at line ${at + 1}:\n` +
          `  README:    ${have[at] ?? '(end)'}\n  generated: ${want[at] ?? '(end)'}`,
      );
    }
  });

  test('a type the README does not document makes the generated README differ, under its own area after the known ones', () => {
    const grown: EventCatalogue = {
      ...EVENT_CATALOGUE,
      'webhook.created': { schema: z.object({ webhookId: Text, url: Text }), restore: { restoredBy: 'the webhooks restore' } },
    };
    const block = renderCatalogue(grown);
    expect(replaceBlock(README, block)).not.toBe(README);
    expect(
      block
        .trimEnd()
        .endsWith(
          [
            '#### webhook',
            '',
            '**`webhook.created`** — rebuild: restored by the webhooks restore',
            '',
            '- `webhookId`: string',
            '- `url`: string',
          ].join('\n'),
        ),
    ).toBe(true);
  });

  test('every field of every catalogued type renders in words, never as a bare zod kind', () => {
    const unknown: string[] = [];
    const block = renderCatalogue(EVENT_CATALOGUE, (kind, path) => unknown.push(`${path}: ${kind}`));
    expect(unknown).toEqual([]);
    for (const type of Object.keys(EVENT_CATALOGUE)) expect(block).toContain(`**\`${type}\`** — rebuild: `);
  });

  test('token.created: enums, optional ISO times and a nested optional object with pattern strings', () => {
    expect(renderEvent('token.created', EVENT_CATALOGUE['token.created']!, () => {})).toBe(
      [
        '**`token.created`** — rebuild: not restored (only a hash of each token was stored: a rebuild warns, and new tokens are created)',
        '',
        '- `principal`: string',
        '- `role`: one of `reader`, `publisher`, `promoter`, `approver`, `operator`, `auditor`, `security`, `admin`, `invoker`',
        '- `tokenId` (optional): string',
        '- `expiresAt` (optional): ISO time',
        '- `scope` (optional): object',
        '  - `prefixes`: array of string matching `^[a-z0-9][a-z0-9._-]{0,127}$`',
        '  - `teams`: array of string matching `^[a-z0-9][a-z0-9._-]{0,63}$`',
      ].join('\n'),
    );
  });

  test('promotion.rolled_back: a refined object, nullable time, loose nested object, restoredBy', () => {
    expect(renderEvent('promotion.rolled_back', EVENT_CATALOGUE['promotion.rolled_back']!, () => {})).toBe(
      [
        '**`promotion.rolled_back`** — rebuild: restored by the promotion replay (lib/modules/promotion/restore.ts)',
        '',
        '- `promotionId`: string',
        '- `kind`: one of `promote`, `rollback`',
        '- `artifactId`: string',
        '- `targetEnv`: string',
        '- `manifestSignatureId`: string',
        '- `status`: one of `succeeded`, `rolled_back`, `failed`',
        '- `appliedAt`: ISO time or null',
        '- `recordSignature`: object (may carry further fields)',
        '  - `signerId`: string',
        '  - `alg`: one of `ed25519`, `ecdsa-p256-sha256`',
        '  - `ts`: ISO time',
        '  - `signature`: string',
        '- `reason` (optional): string',
        '- `error` (optional): string',
      ].join('\n'),
    );
  });

  test('token.rotated carries the .describe() text of its fields', () => {
    const text = renderEvent('token.rotated', EVENT_CATALOGUE['token.rotated']!, () => {});
    expect(text).toContain('- `tokenId`: string — the token rotated out (revoked by the rotation)');
    expect(text).toContain('- `expiresAt`: ISO time — when the new token expires');
  });

  test('areas follow AUDIT_EVENT_TYPES; types it does not name come last, alphabetically', () => {
    expect(groupByArea(['zeta.b', 'token.revoked', 'artifact.download_issued', 'zeta.a', 'token.created', 'artifact.registered'])).toEqual([
      ['artifact', ['artifact.registered', 'artifact.download_issued']],
      ['token', ['token.created', 'token.revoked']],
      ['zeta', ['zeta.a', 'zeta.b']],
    ]);
  });
});

describe('the schema renderer', () => {
  test('renders each zod kind: wrappers, numbers, strings, literals, records, unions, pipes, tuples, intersections', () => {
    const Base = z.object({ a: z.string() });
    const Tree: z.ZodType = z.lazy(() => z.object({ leaf: z.boolean() }));
    const { lines, unknown } = render(
      z.object({
        when: Iso.describe('described on a shared schema'),
        at: z.iso.datetime().optional(),
        sha: Sha,
        mail: z.email(),
        count: Int.min(1).max(9),
        share: z.number().gt(0).lt(1),
        ids: z.array(Text).min(1).max(3),
        pinned: z.literal('v1'),
        either: z.literal(['a', 'b']),
        owner: Text.nullable().default(null).describe('who'),
        labels: z.record(z.string(), z.number()),
        byName: z.record(z.enum(['x', 'y']), z.object({ n: Int })),
        value: z.union([z.string(), z.number().int().nullable()]),
        shape: z.discriminatedUnion('kind', [z.object({ kind: z.literal('circle'), r: z.number() }), z.object({ kind: z.literal('dot') })]),
        length: z.string().transform((s) => s.length),
        trimmed: z.preprocess((v) => v, z.boolean()),
        pair: z.tuple([z.string(), Int]),
        both: z.intersection(Base, z.object({ b: Int })),
        extra: z.object({}).catchall(z.number()),
        tree: Tree,
        frozen: z.array(z.null()).readonly(),
        anything: z.unknown(),
      }),
    );
    expect(unknown).toEqual([]);
    expect(lines).toEqual([
      '- `when`: ISO time — described on a shared schema',
      '- `at` (optional): ISO time',
      '- `sha`: sha256 (hex)',
      '- `mail`: string (email)',
      '- `count`: integer ≥ 1, ≤ 9',
      '- `share`: number > 0, < 1',
      '- `ids`: array of string (at least 1, at most 3)',
      '- `pinned`: always `v1`',
      '- `either`: one of `a`, `b`',
      '- `owner` (optional): string or null, default `null` — who',
      '- `labels`: map of string to number',
      '- `byName`: map of one of `x`, `y` to object',
      '  - `n`: integer',
      '- `value`: string or integer or null',
      '- `shape`: one of the objects below, told apart by `kind`',
      '  - `kind = "circle"`: object',
      '    - `kind`: always `circle`',
      '    - `r`: number',
      '  - `kind = "dot"`: object',
      '    - `kind`: always `dot`',
      '- `length`: string',
      '- `trimmed`: boolean',
      '- `pair`: tuple [string, integer]',
      '- `both`: object and object',
      '  - `a`: string',
      '  - `b`: integer',
      '- `extra`: object (further fields: number)',
      '- `tree`: object',
      '  - `leaf`: boolean',
      '- `frozen`: array of null',
      '- `anything`: any JSON value',
    ]);
  });

  test('a kind it does not know renders as its def.type and is reported with its path, without throwing', () => {
    const { lines, unknown } = render(z.object({ born: z.date(), nested: z.object({ big: z.bigint().optional() }) }));
    expect(lines).toEqual(['- `born`: `date`', '- `nested`: object', '  - `big` (optional): `bigint`']);
    expect(unknown).toEqual(['test.event.born: date', 'test.event.nested.big: bigint']);
  });

  test('a payload that is not an object is listed as one field', () => {
    expect(render(z.array(z.string())).lines).toEqual(['- `(payload)`: array of string']);
    expect(fieldDoc('x', z.string().optional(), () => {})).toEqual({ name: 'x', type: 'string', optional: true, children: [] });
  });
});

describe('replacing the block', () => {
  test('keeps what surrounds the markers and is idempotent', () => {
    const doc = `intro\n${START_MARKER}\nold\n${END_MARKER}\noutro\n`;
    const once = replaceBlock(doc, '\nnew\n\n');
    expect(once).toBe(`intro\n${START_MARKER}\n\nnew\n\n${END_MARKER}\noutro\n`);
    expect(replaceBlock(once, '\nnew\n\n')).toBe(once);
  });

  test.each([
    ['no markers', 'text'],
    ['the end marker first', `${END_MARKER}\n${START_MARKER}`],
    ['a marker twice', `${START_MARKER}\n${END_MARKER}\n${START_MARKER}\n${END_MARKER}`],
  ])('refuses a README with %s', (_what, doc) => {
    expect(() => replaceBlock(doc, 'x')).toThrow(/expected one <!-- event-catalogue:start -->/);
  });
});

describe('npm run docs:events (scripts/event-catalogue.ts)', () => {
  const run = promisify(execFile);
  const script = (...args: string[]) =>
    run(process.execPath, ['--import', 'tsx', join(REPO, 'scripts/event-catalogue.ts'), ...args], { cwd: REPO }).then(
      (r) => ({ code: 0, out: r.stdout + r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
    );
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'event-catalogue-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('--check exits 1 on a stale block and writes nothing; without it the block is rewritten and then checks clean', async () => {
    const file = join(dir, 'README.md');
    const stale = `# Doc\n\n${START_MARKER}\nnothing yet\n${END_MARKER}\n\n## After\n`;
    writeFileSync(file, stale);
    const checked = await script('--check', file);
    expect(checked).toMatchObject({ code: 1 });
    expect(checked.out).toContain('the event catalogue is stale: run `npm run docs:events`');
    expect(readFileSync(file, 'utf8')).toBe(stale);

    expect((await script(file)).code).toBe(0);
    const written = readFileSync(file, 'utf8');
    expect(written).toBe(replaceBlock(stale, renderCatalogue(EVENT_CATALOGUE)));
    expect(written.endsWith(`${END_MARKER}\n\n## After\n`)).toBe(true);
    expect(await script('--check', file)).toMatchObject({ code: 0 });
  });

  test('exits 2 on a README without the markers', async () => {
    const file = join(dir, 'plain.md');
    writeFileSync(file, '# no markers\n');
    const r = await script('--check', file);
    expect(r.code).toBe(2);
    expect(r.out).toContain('expected one');
  });
});
